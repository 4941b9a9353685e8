package org.metisfl.examples.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.examples.experiment.LearningResults.Row;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;

/**
 * The runner end to end on a small slice of Fashion-MNIST: one FedAvg cell (the real job on a
 * MiniCluster, three in-process DL4J learners over gRPC) and the centralized baseline, then the
 * report built from their files.
 */
class LearningExperimentITCase {

    @TempDir Path tmp;

    @Test
    void runsACellAndTheBaselineAndReportsEveryRoundOfThem() throws Exception {
        LearningExperiment.Settings s = new LearningExperiment.Settings(2, 3, 42, 64, 1500, 300);
        FashionMnist data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 1500, 300);
        Path work = tmp.resolve("work");

        LearningExperiment.runCell("fedavg", "dir0.5", s, data, work.resolve("fedavg-dir0.5"));
        LearningExperiment.runCell(
                "centralized", "full", s, data, work.resolve("centralized-full"));
        LearningExperiment.report(work, tmp.resolve("out"), s, new int[] {1, 2});

        List<RoundResult> results =
                RoundResults.read(work.resolve("fedavg-dir0.5").resolve("results.jsonl"));
        List<Row> rows =
                LearningResults.parseCsv(Files.readString(tmp.resolve("out/learning.csv")));
        List<Row> fedavg = rows.stream().filter(r -> r.method().equals("fedavg")).toList();
        assertThat(fedavg).extracting(Row::round).containsExactly(1.0, 2.0);
        // the rows carry the job's own evaluation of rounds 1 and 2
        for (Row r : fedavg) {
            RoundResult round =
                    results.stream().filter(x -> x.round == (long) r.round()).findFirst().get();
            assertThat(r.accuracy()).isEqualTo(round.evalMetrics.get("accuracy"));
        }
        List<Row> central = rows.stream().filter(r -> r.method().equals("centralized")).toList();
        assertThat(central).extracting(Row::round).containsExactly(1.0, 2.0);
        assertThat(central).allSatisfy(r -> assertThat(r.accuracy()).isBetween(0.3, 1.0));
        assertThat(tmp.resolve("out/learning-dir0.5.png")).isNotEmptyFile();
        assertThat(Files.readString(tmp.resolve("out/learning-table.md")))
                .contains("| fedavg | dir0.5 | " + String.format("%.4f", fedavg.get(0).accuracy()));
        assertThat(Files.readAllLines(tmp.resolve("out/learning-runs.csv")))
                .hasSize(3)
                .anySatisfy(l -> assertThat(l).startsWith("fedavg,dir0.5,2,"));
    }
}
