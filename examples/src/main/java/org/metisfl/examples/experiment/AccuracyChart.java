package org.metisfl.examples.experiment;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/** Draws accuracy against wall-clock time, one line per series, as a PNG (Java2D, headless). */
public final class AccuracyChart {
    private static final Color[] COLORS = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e)
    };

    /** One point: seconds since the federation started, and the global test accuracy. */
    public record Point(double seconds, double accuracy) {}

    private AccuracyChart() {}

    public static void write(Map<String, List<Point>> series, String title, Path png)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 900;
        int h = 560;
        int left = 80;
        int right = 200;
        int top = 50;
        int bottom = 60;
        double maxX = 1;
        double minY = 1;
        double maxY = 0;
        for (List<Point> s : series.values()) {
            for (Point p : s) {
                maxX = Math.max(maxX, p.seconds());
                minY = Math.min(minY, p.accuracy());
                maxY = Math.max(maxY, p.accuracy());
            }
        }
        maxX = Math.ceil(maxX / 30) * 30; // ticks at multiples of 6 s
        minY = Math.max(0, Math.floor(minY * 20) / 20);
        maxY = Math.min(1, Math.ceil(maxY * 20) / 20);
        if (maxY <= minY) {
            maxY = minY + 0.05;
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.drawRect(left, top, pw, ph);
        for (int i = 0; i <= 5; i++) {
            double y = minY + (maxY - minY) * i / 5;
            int py = top + ph - (int) (ph * i / 5.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(left + 1, py, left + pw - 1, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.2f", y), left - 40, py + 4);
            double x = maxX * i / 5;
            int px = left + (int) (pw * i / 5.0);
            g.drawString(String.format(Locale.ROOT, "%.0f", x), px - 8, top + ph + 18);
        }
        g.drawString("wall-clock time (s)", left + pw / 2 - 50, h - 20);
        g.drawString("global test accuracy", 10, top - 10);
        int k = 0;
        for (Map.Entry<String, List<Point>> s : series.entrySet()) {
            Color c = COLORS[k % COLORS.length];
            g.setColor(c);
            g.setStroke(new BasicStroke(2.2f));
            int prevX = -1;
            int prevY = -1;
            for (Point p : s.getValue()) {
                int px = left + (int) (pw * p.seconds() / maxX);
                int py = top + ph - (int) (ph * (p.accuracy() - minY) / (maxY - minY));
                g.fillOval(px - 3, py - 3, 6, 6);
                if (prevX >= 0) {
                    g.drawLine(prevX, prevY, px, py);
                }
                prevX = px;
                prevY = py;
            }
            int ly = top + 20 + 22 * k;
            g.drawLine(left + pw + 15, ly - 4, left + pw + 40, ly - 4);
            g.setColor(Color.BLACK);
            g.drawString(s.getKey(), left + pw + 46, ly);
            k++;
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    /** Keeps the series in insertion order. */
    public static Map<String, List<Point>> newSeries() {
        return new LinkedHashMap<>();
    }
}
