package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.flink.testutil.RawLearner;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;

/** Synchronous FedAvg rounds on a MiniCluster with RocksDB and real gRPC learners. */
class SyncFedAvgITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir Path work;

    /** Two tensors, 3,700 values: four shards of 1,024. */
    static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("dense/kernel", 50, 60), RawLearner.spec("dense/bias", 700));

    static float[] pattern(int n, float scale, float shift) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = scale * (float) Math.sin(i * 0.37 + shift);
        }
        return v;
    }

    Path initialModel(int n) throws Exception {
        Path file = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                file,
                List.of(
                        new TensorSpecInfo("dense/kernel", new long[] {50, 60}),
                        new TensorSpecInfo("dense/bias", new long[] {700})),
                pattern(n, 0.1f, 0));
        return file;
    }

    @Test
    void globalModelIsTheExampleWeightedMeanOfTheUpdatesAcrossShards() throws Exception {
        int n = 3700;
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "federation.rounds", "2",
                                "federation.min-learners", "3",
                                "federation.initial-model", initialModel(n).toString(),
                                "aggregation.shard-size", "1024"))) {
            List<RawLearner> learners = new ArrayList<>();
            long[] examples = {100, 200, 700};
            for (int i = 0; i < 3; i++) {
                RawLearner l = h.learner(0);
                l.join("learner-" + i, examples[i]);
                l.openTaskStream();
                learners.add(l);
            }
            float[][] updates = new float[3][];
            for (int i = 0; i < 3; i++) {
                RawLearner l = learners.get(i);
                Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
                assertThat(t.getRound()).isEqualTo(1);
                RawLearner.Downloaded m = l.getModel();
                assertThat(m.version()).isZero();
                assertThat(m.values()).containsExactly(pattern(n, 0.1f, 0));
                updates[i] = pattern(n, i + 1, i);
                SubmitUpdateResponse r =
                        l.submit(1, SPECS, updates[i], examples[i], Map.of("loss", 1.0 + i));
                assertThat(r.getStatus()).isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }
            // Round 1's participants evaluate its model, then train round 2 from it.
            for (int i = 0; i < 3; i++) {
                RawLearner l = learners.get(i);
                Task eval = l.nextTask(Task.KindCase.EVALUATE, WAIT);
                assertThat(eval.getRound()).isEqualTo(1);
                l.evaluate(1, 10 * (i + 1), Map.of("accuracy", 0.1 * (i + 1)));
            }
            RawLearner.Downloaded global = learners.get(0).getModel();
            assertThat(global.version()).isEqualTo(1);
            double total = examples[0] + examples[1] + examples[2];
            for (int k = 0; k < n; k++) {
                double expected =
                        (examples[0] * updates[0][k]
                                        + examples[1] * updates[1][k]
                                        + examples[2] * updates[2][k])
                                / total;
                assertThat((double) global.values()[k]).isCloseTo(expected, within(1e-6));
            }
            List<RoundResult> results = h.awaitResults(1, WAIT);
            RoundResult first = results.get(0);
            assertThat(first.round).isEqualTo(1);
            assertThat(first.contributors).hasSize(3);
            assertThat(first.aborted).isFalse();
            // accuracy weighted by evaluation examples: (10*.1 + 20*.2 + 30*.3) / 60
            assertThat(first.evalMetrics.get("accuracy")).isCloseTo(14.0 / 60, within(1e-9));
            assertThat(first.trainMetrics.get("loss"))
                    .isCloseTo((100 * 1.0 + 200 * 2.0 + 700 * 3.0) / 1000, within(1e-9));
            for (RawLearner l : learners) {
                l.close();
            }
        }
    }
}
