package org.metisfl.examples.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.metisfl.cli.report.Charts;
import org.metisfl.examples.experiment.LearningResults.Row;
import org.metisfl.flink.model.RoundResult;

class LearningResultsTest {

    private static final List<String> METHODS = List.of("centralized", "fedavg", "fedbuff");

    private static RoundResult round(long round, Double accuracy, Double epsilon) {
        RoundResult r = new RoundResult();
        r.round = round;
        r.evalMetrics = accuracy == null ? null : Map.of("accuracy", accuracy, "loss", 1.5);
        r.epsilon = epsilon;
        return r;
    }

    private static List<Row> rows() {
        return List.of(
                new Row("centralized", "full", 1, 0.80, 0.55, null),
                new Row("centralized", "full", 2, 0.83, 0.47, null),
                new Row("fedavg", "dir0.1", 1, 0.41, 1.6, null),
                new Row("fedavg", "dir0.1", 2, 0.62, 1.1, null),
                new Row("fedbuff", "dir0.1", 0.5, 0.30, 2.0, null),
                new Row("fedbuff", "dir0.1", 1, 0.45, 1.4, 12.5),
                new Row("fedavg", "iid", 2, 0.84, null, null));
    }

    @Test
    void csvParsesBackToTheSameRowsIncludingAbsentValues() {
        List<Row> rows = rows();

        String csv = LearningResults.toCsv(rows);

        assertThat(csv).startsWith(LearningResults.HEADER + "\n");
        assertThat(csv).contains("fedavg,iid,2,0.84,,\n");
        assertThat(LearningResults.parseCsv(csv)).isEqualTo(rows);
    }

    @Test
    void refusesACsvWithoutTheHeaderOrWithAShortLine() {
        assertThatThrownBy(() -> LearningResults.parseCsv("a,b\n1,2\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("first line");
        assertThatThrownBy(
                        () -> LearningResults.parseCsv(LearningResults.HEADER + "\nfedavg,iid,1\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 2 has 3 fields");
    }

    @Test
    void resultsBecomeRowsOnlyForRoundsEvaluatedByEveryLearnerScaledToRounds() {
        // FedBuff with K = 5 and 10 learners: results every 2 versions, half a round per version.
        RoundResult partlyEvaluated = round(3, 0.9, null);
        partlyEvaluated.evaluators = 10;
        partlyEvaluated.evaluationsReceived = 7;
        List<RoundResult> results =
                List.of(
                        round(1, null, null),
                        round(2, 0.5, null),
                        partlyEvaluated,
                        round(4, 0.6, 3.0));

        List<Row> rows = LearningResults.fromResults("fedbuff", "iid", results, 0.5);

        assertThat(rows)
                .containsExactly(
                        new Row("fedbuff", "iid", 1, 0.5, 1.5, null),
                        new Row("fedbuff", "iid", 2, 0.6, 1.5, 3.0));
    }

    @Test
    void tableTakesTheAccuracyAtTheAskedRoundsAndMarksMissingCells() {
        String table =
                LearningResults.table(
                        rows(),
                        METHODS,
                        List.of("iid", "dir0.1"),
                        new int[] {1, 2},
                        (m, p) -> "run " + m + " " + p);

        assertThat(table)
                .contains("| method | partition | accuracy after 1 | accuracy after 2 | rounds 2–2")
                .contains(
                        "| centralized | full | 0.8000 | 0.8300 | 0.8300–0.8300 |"
                                + " `run centralized full` |")
                .contains(
                        "| fedavg | dir0.1 | 0.4100 (−0.3900) | 0.6200 (−0.2100) |"
                                + " 0.6200–0.6200 | `run fedavg dir0.1` |")
                .contains("| fedavg | iid | not run yet | 0.8400 (+0.0100) | 0.8400–0.8400 |")
                .contains("| fedbuff | dir0.1 | 0.4500 (−0.3500; ε 12.5) | not run yet |")
                .contains("| fedbuff | iid | not run yet | not run yet | – |");
        // a header, a rule, one centralized line and two lines per federated method
        assertThat(table.lines()).hasSize(2 + 1 + 2 * 2);
    }

    @Test
    void chartSeriesHoldEveryRowOfThePartitionAndTheCentralizedBaseline() {
        List<Row> parsed = LearningResults.parseCsv(LearningResults.toCsv(rows()));

        Map<String, List<Charts.Point>> series = LearningResults.series(parsed, METHODS, "dir0.1");

        assertThat(series.keySet()).containsExactly("centralized (epochs)", "fedavg", "fedbuff");
        assertThat(series.get("fedavg"))
                .containsExactly(new Charts.Point(1, 0.41), new Charts.Point(2, 0.62));
        assertThat(series.get("fedbuff"))
                .containsExactly(new Charts.Point(0.5, 0.30), new Charts.Point(1, 0.45));
        assertThat(LearningResults.series(parsed, METHODS, "iid").get("fedavg"))
                .containsExactly(new Charts.Point(2, 0.84));
    }

    @Test
    void chartIsAPngOfTheReportSize() throws Exception {
        byte[] png = LearningResults.chart(rows(), METHODS, "dir0.1", 10);

        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        assertThat(image.getWidth()).isEqualTo(900);
        assertThat(image.getHeight()).isEqualTo(480);
    }

    @Test
    void fedBuffRunsTwiceTheVersionsOfRoundsWithTenLearnersAndKFive() {
        LearningExperiment.Settings s = new LearningExperiment.Settings(20, 10, 42, 64, 0, 0);

        Map<String, String> fedbuff = LearningExperiment.federation("fedbuff", s);

        assertThat(fedbuff).containsEntry("federation.rounds", "40");
        assertThat(fedbuff).containsEntry("async.evaluate-every", "2");
        assertThat(LearningExperiment.roundsPerResult("fedbuff", s)).isCloseTo(0.5, within(0.0));
        assertThat(LearningExperiment.federation("fedavg", s))
                .containsEntry("federation.rounds", "20");
    }

    @Test
    void partitionNamesBecomeLearnerFlagsAndBadOnesAreRefused() {
        assertThat(LearningExperiment.learnerFlags("dir0.1", 42, 64, 0, 0))
                .containsSequence("--partition", "dirichlet", "--alpha", "0.1");
        assertThat(LearningExperiment.learnerFlags("iid", 42, 64, 0, 0))
                .containsSequence("--partition", "iid");
        assertThatThrownBy(() -> LearningExperiment.learnerFlags("dir-1", 42, 64, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("use iid or dirA");
        assertThatThrownBy(() -> LearningExperiment.learnerFlags("shards", 42, 64, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
