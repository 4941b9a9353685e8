package org.metisfl.cli.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FederationReportTest {
    @TempDir Path dir;

    /** Round r of a made-up federation: every value a simple function of r. */
    private static String line(int r, boolean withEval) {
        long started = 1_000_000L + 10_000L * r;
        long time = 1_500L * r + 250;
        String eval =
                withEval
                        ? String.format(
                                Locale.ROOT,
                                ",\"evalMetrics\":{\"accuracy\":%s,\"loss\":%s}",
                                0.5 + r / 100.0,
                                2.0 / r)
                        : "";
        List<String> contributors = new ArrayList<>();
        for (int i = 0; i < r % 3 + 1; i++) {
            contributors.add("\"l" + i + "\"");
        }
        return String.format(
                Locale.ROOT,
                "{\"federation\":\"demo <&>\",\"round\":%d,\"participants\":%d,"
                        + "\"contributors\":[%s],\"aborted\":%s,\"startedAtMs\":%d,"
                        + "\"closedAtMs\":%d,\"roundTimeMs\":%d,\"trainMetrics\":{\"loss\":%s}%s}",
                r,
                r % 3 + 2,
                String.join(",", contributors),
                r == 4,
                started,
                started + time,
                time,
                3.0 / r,
                eval);
    }

    @Test
    void reportHoldsOnePointPerRoundWithTheResultsFilesValuesAndDecodablePngs() throws Exception {
        int rounds = 7;
        StringBuilder jsonl = new StringBuilder();
        for (int r = 1; r <= rounds; r++) {
            jsonl.append(line(r, r != 3)).append('\n');
            if (r == 5) {
                // a failover rewrote round 5: the last line of a round wins
                jsonl.append(line(5, true).replace("\"participants\":4", "\"participants\":9"))
                        .append('\n');
            }
        }
        jsonl.append("{\"federation\":\"demo\",\"round\":8,\"partic"); // being written
        Path results = Files.writeString(dir.resolve("demo.jsonl"), jsonl);

        Path html = FederationReport.write(results);

        assertThat(html).isEqualTo(dir.resolve("demo.html"));
        List<FederationReport.Row> rows = FederationReport.readRows(html);
        assertThat(rows).hasSize(rounds);
        for (int r = 1; r <= rounds; r++) {
            FederationReport.Row row = rows.get(r - 1);
            assertThat(row.round()).isEqualTo(r);
            if (r == 3) {
                assertThat(row.accuracy()).isNull();
                assertThat(row.loss()).isNull();
            } else {
                assertThat(row.accuracy()).isCloseTo(0.5 + r / 100.0, within());
                assertThat(row.loss()).isCloseTo(2.0 / r, within());
            }
            assertThat(row.trainLoss()).isCloseTo(3.0 / r, within());
            assertThat(row.roundTimeSeconds()).isCloseTo((1_500.0 * r + 250) / 1000, within());
            assertThat(row.participants()).isEqualTo(r == 5 ? 9 : r % 3 + 2);
            assertThat(row.contributors()).isEqualTo(r % 3 + 1);
            assertThat(row.aborted()).isEqualTo(r == 4);
        }

        String text = Files.readString(html);
        assertThat(text).contains("Federation 'demo &lt;&amp;&gt;'").doesNotContain("demo <&>");
        // the table: one row per round plus the header
        assertThat(Pattern.compile("<tr>").matcher(text).results().count()).isEqualTo(rounds + 1);
        assertThat(text).contains("best test accuracy: 0.5700 (round 7)");

        // every chart embedded, and the same PNG next to the report
        Matcher img =
                Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(text);
        List<String> embedded = new ArrayList<>();
        while (img.find()) {
            embedded.add(img.group(1));
        }
        assertThat(embedded).hasSize(FederationReport.CHARTS.size());
        int i = 0;
        for (String chart : FederationReport.CHARTS.keySet()) {
            byte[] bytes = Base64.getDecoder().decode(embedded.get(i++));
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(bytes));
            assertThat(image).as(chart).isNotNull();
            assertThat(image.getWidth()).isEqualTo(Charts.WIDTH);
            assertThat(image.getHeight()).isEqualTo(Charts.HEIGHT);
            Path png = dir.resolve("demo-" + chart + ".png");
            assertThat(Files.readAllBytes(png)).isEqualTo(bytes);
        }
    }

    @Test
    void emptyOrMissingResultsFileIsRefusedWithTheReason() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "");
        assertThatThrownBy(() -> FederationReport.write(empty))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds no complete round yet");
        assertThatThrownBy(() -> FederationReport.write(dir.resolve("none.jsonl")))
                .hasMessageContaining("does not exist");
    }

    private static org.assertj.core.data.Offset<Double> within() {
        return org.assertj.core.data.Offset.offset(1e-9);
    }
}
