package org.metisfl.cli.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Line charts of a federation as PNG bytes, drawn with JFreeChart (headless): one series per name,
 * x and y as given; a {@code null} y leaves a gap (e.g. a round without evaluation).
 */
public final class Charts {
    static final int WIDTH = 900;
    static final int HEIGHT = 480;

    private static final Color[] COLORS = {
        new Color(0x1f77b4),
        new Color(0xd62728),
        new Color(0x2ca02c),
        new Color(0xff7f0e),
        new Color(0x9467bd),
        new Color(0x8c564b),
        new Color(0xe377c2),
        new Color(0x7f7f7f)
    };

    /** How the y axis is scaled. */
    public enum YAxis {
        /** Fitted to the values (accuracy, loss). */
        FIT,
        /** From zero (durations). */
        FROM_ZERO,
        /** From zero, whole numbers only (learners). */
        COUNT
    }

    /** One point of a series. */
    public record Point(double x, Double y) {}

    private Charts() {}

    /** A line chart of the series against rounds (ticks at whole numbers) as a PNG. */
    public static byte[] lineChart(
            String title,
            String xLabel,
            String yLabel,
            Map<String, List<Point>> series,
            YAxis yAxis) {
        return lineChart(title, xLabel, yLabel, series, yAxis, true);
    }

    /**
     * A line chart of the series as a PNG.
     *
     * @param integerX ticks at whole numbers only on the x axis (rounds)
     */
    public static byte[] lineChart(
            String title,
            String xLabel,
            String yLabel,
            Map<String, List<Point>> series,
            YAxis yAxis,
            boolean integerX) {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        for (Map.Entry<String, List<Point>> s : series.entrySet()) {
            XYSeries xy = new XYSeries(s.getKey(), false, true);
            for (Point p : s.getValue()) {
                xy.add(p.x(), p.y());
            }
            data.addSeries(xy);
        }
        JFreeChart chart =
                ChartFactory.createXYLineChart(
                        title,
                        xLabel,
                        yLabel,
                        data,
                        PlotOrientation.VERTICAL,
                        series.size() > 1,
                        false,
                        false);
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < series.size(); i++) {
            renderer.setSeriesPaint(i, COLORS[i % COLORS.length]);
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(renderer);
        NumberAxis range = (NumberAxis) plot.getRangeAxis();
        range.setAutoRangeIncludesZero(yAxis != YAxis.FIT);
        if (yAxis == YAxis.COUNT) {
            range.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        }
        if (integerX) {
            ((NumberAxis) plot.getDomainAxis())
                    .setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ChartUtils.writeChartAsPNG(png, chart, WIDTH, HEIGHT);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return png.toByteArray();
    }
}
