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
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * {@code aggregation.scaling} through the whole job (MiniCluster, RocksDB, real gRPC learners): the
 * new model is the mean of the updates weighted by completed mini-batches, or unweighted, as
 * computed here from what the learners sent. The learners report different example counts, so an
 * example-weighted mean would fail both tests.
 */
class ScalingITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 2500; // three shards of 1024
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    private static float[] pattern(float scale, float shift) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.cos(i * 0.11 + shift);
        }
        return v;
    }

    /** Runs one round of three learners and returns the new global model and the updates. */
    private float[] oneRound(String scaling, long[] examples, long[] batches, float[][] updates)
            throws Exception {
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "federation.rounds", "2",
                                "federation.min-learners", "3",
                                "evaluation.enabled", "false",
                                "aggregation.shard-size", "1024",
                                "aggregation.scaling", scaling))) {
            List<RawLearner> ls = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                RawLearner l = h.learner(0);
                l.join("l" + i, examples[i]);
                if (i == 0) {
                    l.submit(0, SPECS, new float[N], examples[0], batches[0], Map.of());
                }
                ls.add(l);
            }
            ls.forEach(RawLearner::openTaskStream);
            for (int i = 0; i < 3; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                updates[i] = pattern(i + 1, i);
                SubmitUpdateResponse r =
                        ls.get(i).submit(1, SPECS, updates[i], examples[i], batches[i], Map.of());
                assertThat(r.getStatus()).isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }
            ls.get(0).nextTask(Task.KindCase.TRAIN, WAIT);
            RawLearner.Model m = ls.get(0).getModel();
            assertThat(m.version()).isEqualTo(1);
            for (RawLearner l : ls) {
                l.close();
            }
            return m.values();
        }
    }

    @Test
    void batchesScalingWeighsEachUpdateByItsCompletedMiniBatches() throws Exception {
        long[] examples = {100, 200, 700};
        long[] batches = {9, 2, 1};
        float[][] u = new float[3][];
        float[] global = oneRound("batches", examples, batches, u);
        for (int k = 0; k < N; k++) {
            double expected = (9.0 * u[0][k] + 2.0 * u[1][k] + 1.0 * u[2][k]) / 12.0;
            assertThat((double) global[k]).isCloseTo(expected, within(1e-6));
        }
    }

    @Test
    void participantsScalingWeighsEveryUpdateTheSame() throws Exception {
        long[] examples = {100, 200, 700};
        long[] batches = {9, 2, 1};
        float[][] u = new float[3][];
        float[] global = oneRound("participants", examples, batches, u);
        for (int k = 0; k < N; k++) {
            double expected = ((double) u[0][k] + u[1][k] + u[2][k]) / 3.0;
            assertThat((double) global[k]).isCloseTo(expected, within(1e-6));
        }
    }
}
