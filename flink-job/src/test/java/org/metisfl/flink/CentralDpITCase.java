package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Central DP (DP-FedAvg) end to end on a MiniCluster with RocksDB and real gRPC learners: the job
 * clips every update's delta over all four shards, adds noise of the configured scale to the sum,
 * divides by the participants, and reports epsilon per round in the results. It runs on the model
 * path: each aggregator subtask adds its shards' noised mean delta to the global values it holds.
 */
class CentralDpITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 3700; // four shards of 1,024

    static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("dense/kernel", 50, 60), RawLearner.spec("dense/bias", 700));

    @TempDir Path work;

    private static float[] pattern(float scale, float shift) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = scale * (float) Math.sin(i * 0.37 + shift);
        }
        return v;
    }

    private Path initialModel(float[] values) throws Exception {
        Path file = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                file,
                List.of(
                        new TensorSpecInfo("dense/kernel", new long[] {50, 60}),
                        new TensorSpecInfo("dense/bias", new long[] {700})),
                values);
        return file;
    }

    private static double norm(float[] a, float[] b) {
        double sq = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            sq += d * d;
        }
        return Math.sqrt(sq);
    }

    /** The clipped delta as the test computes it, independently of the job's code. */
    private static double[] clippedDelta(float[] update, float[] global, double clip) {
        double n = norm(update, global);
        double f = Math.min(1, clip / n);
        double[] d = new double[update.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = ((double) update[i] - global[i]) * f;
        }
        return d;
    }

    /** eps = min over the accountant's orders of T alpha / (2 z^2) + CKS 2020's conversion. */
    private static double gaussianEpsilon(double z, int rounds, double delta) {
        double best = Double.POSITIVE_INFINITY;
        for (int x = 1; x < 100; x++) {
            best = Math.min(best, eps(1 + x / 10.0, z, rounds, delta));
        }
        for (int a = 12; a < 64; a++) {
            best = Math.min(best, eps(a, z, rounds, delta));
        }
        return best;
    }

    private static double eps(double a, double z, int rounds, double delta) {
        double rdp = rounds * a / (2 * z * z);
        return rdp + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    }

    private List<RawLearner> joinAll(FederationHarness h, int k) {
        List<RawLearner> ls = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            RawLearner l = h.learner(0);
            l.join("learner-" + i, 100 * (i + 1));
            l.openTaskStream();
            ls.add(l);
        }
        return ls;
    }

    /**
     * With almost no noise the new model is the old one plus the mean of the clipped deltas,
     * computed here independently: the bound holds for every update, over all shards together,
     * whatever the learners' example counts.
     */
    @Test
    void everyUpdateIsClippedOverAllShardsAndTheMeanDeltaIsApplied() throws Exception {
        float[] g0 = pattern(0.1f, 0);
        double clip = 2.0;
        Map<String, String> settings = new HashMap<>();
        settings.put("federation.rounds", "1");
        settings.put("federation.min-learners", "3");
        settings.put("federation.initial-model", initialModel(g0).toString());
        settings.put("evaluation.enabled", "false");
        settings.put("aggregation.shard-size", "1024");
        settings.put("privacy.mechanism", "central-dp");
        settings.put("privacy.noise-multiplier", "1e-6");
        settings.put("privacy.clip-norm", Double.toString(clip));
        settings.put("privacy.noise-seed", "7");
        try (FederationHarness h = FederationHarness.start(work, settings)) {
            // The model path: the noised mean delta is added at each aggregator subtask (two, four
            // shards), which sends the new global shards to the gateway itself.
            assertThat(FederationPipeline.modelAtShards(h.config())).isTrue();
            List<RawLearner> ls = joinAll(h, 3);
            // deltas of norm ~0.7 (kept), ~70 and ~210 (clipped to 2)
            float[][] updates = new float[3][];
            float[] scales = {0.015f, 1.5f, 4.5f};
            double[] sum = new double[N];
            for (int i = 0; i < 3; i++) {
                ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                float[] delta = pattern(scales[i], i + 1);
                updates[i] = new float[N];
                for (int k = 0; k < N; k++) {
                    updates[i][k] = g0[k] + delta[k];
                }
                double[] c = clippedDelta(updates[i], g0, clip);
                for (int k = 0; k < N; k++) {
                    sum[k] += c[k];
                }
                SubmitUpdateResponse r =
                        ls.get(i).submit(1, SPECS, updates[i], 100 * (i + 1), Map.of());
                assertThat(r.getStatus()).isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }
            assertThat(norm(updates[0], g0)).isLessThan(clip);
            assertThat(norm(updates[1], g0)).isGreaterThan(clip);
            RoundResult r1 = h.awaitResults(1, WAIT).get(0);
            RawLearner.Model global = ls.get(0).getModel();
            assertThat(global.version()).isEqualTo(1);
            for (int k = 0; k < N; k++) {
                // equal weights despite 100/200/300 examples; noise std 2e-6 / 3
                assertThat((double) global.values()[k] - g0[k])
                        .as("value %d", k)
                        .isCloseTo(sum[k] / 3, within(1e-5));
            }
            // the applied mean delta is within the clip norm, as every summand
            assertThat(norm(global.values(), g0)).isLessThanOrEqualTo(clip * (1 + 1e-4));
            assertThat(r1.epsilon).isNotNull().isGreaterThan(1e6);
            assertThat(r1.clipNorm).isEqualTo(clip);
            for (RawLearner l : ls) {
                l.close();
            }
        }
    }

    /**
     * The noise on the released model has standard deviation z C / m: the model minus the old one
     * minus the mean clipped delta, over 3,700 values, must have that spread (the sample standard
     * deviation's standard error is 1.2% there; the tolerance is 5 of them). Epsilon after each
     * round is the Gaussian mechanism's composed over the rounds (q = 1: everyone participates),
     * computed here from the closed form alpha / (2 z^2).
     */
    @Test
    void noiseHasTheConfiguredScaleAndEpsilonIsReportedPerRound() throws Exception {
        float[] g0 = pattern(0.1f, 0);
        double clip = 1.0;
        double z = 1.5;
        Map<String, String> settings = new HashMap<>();
        settings.put("federation.rounds", "2");
        settings.put("federation.min-learners", "3");
        settings.put("federation.initial-model", initialModel(g0).toString());
        settings.put("evaluation.enabled", "false");
        settings.put("aggregation.shard-size", "1024");
        settings.put("privacy.mechanism", "central-dp");
        settings.put("privacy.noise-multiplier", Double.toString(z));
        settings.put("privacy.clip-norm", Double.toString(clip));
        settings.put("privacy.delta", "1e-5");
        settings.put("privacy.clip-on", "learner");
        try (FederationHarness h = FederationHarness.start(work, settings)) {
            List<RawLearner> ls = joinAll(h, 3);
            float[] model = g0;
            for (int round = 1; round <= 2; round++) {
                double[] sum = new double[N];
                for (int i = 0; i < 3; i++) {
                    Task t = ls.get(i).nextTask(Task.KindCase.TRAIN, WAIT);
                    assertThat(t.getRound()).isEqualTo(round);
                    // clipping on the learner: the task carries the clip norm
                    assertThat(t.getTrain().getClipNorm()).isEqualTo(clip);
                    float[] delta = pattern(3f, i + round); // norm ~130: a learner that
                    float[] update = new float[N]; // ignores the clip norm
                    for (int k = 0; k < N; k++) {
                        update[k] = model[k] + delta[k];
                    }
                    double[] c = clippedDelta(update, model, clip);
                    for (int k = 0; k < N; k++) {
                        sum[k] += c[k];
                    }
                    ls.get(i).submit(round, SPECS, update, 100, Map.of());
                }
                List<RoundResult> results = h.awaitResults(round, WAIT);
                RawLearner.Model global = ls.get(0).getModel();
                assertThat(global.version()).isEqualTo(round);
                double mean = 0;
                double sq = 0;
                for (int k = 0; k < N; k++) {
                    double noise = global.values()[k] - model[k] - sum[k] / 3;
                    mean += noise;
                    sq += noise * noise;
                }
                mean /= N;
                double std = Math.sqrt(sq / N - mean * mean);
                double expected = z * clip / 3;
                assertThat(std).isCloseTo(expected, within(5 * expected / Math.sqrt(2.0 * N)));
                assertThat(mean).isCloseTo(0, within(5 * expected / Math.sqrt(N)));
                RoundResult r = results.get(round - 1);
                assertThat(r.epsilon).isCloseTo(gaussianEpsilon(z, round, 1e-5), within(1e-9));
                assertThat(r.delta).isEqualTo(1e-5);
                model = global.values();
            }
            assertThat(h.results().get(1).epsilon).isGreaterThan(h.results().get(0).epsilon);
            for (RawLearner l : ls) {
                l.close();
            }
        }
    }

    /**
     * Adaptive clipping end to end: every update of round 1 is within the clip norm, so (with
     * negligible count noise) the noised unclipped fraction is 1 and the next clip norm is C0
     * exp(-eta (1 - gamma)) (to 1e-6: the count noise is 1e-6); round 2's tasks carry it to the
     * learners, its plan to the gateway and the aggregators, and round 2's updates are clipped to
     * it.
     */
    @Test
    void adaptiveClippingMovesTheClipNormTowardsTheTargetQuantile() throws Exception {
        float[] g0 = pattern(0.1f, 0);
        double c0 = 2.0;
        double c1 = c0 * Math.exp(-0.2 * (1.0 - 0.5));
        Map<String, String> settings = new HashMap<>();
        settings.put("federation.rounds", "2");
        settings.put("federation.min-learners", "2");
        settings.put("federation.initial-model", initialModel(g0).toString());
        settings.put("evaluation.enabled", "false");
        settings.put("aggregation.shard-size", "1024");
        settings.put("privacy.mechanism", "central-dp");
        settings.put("privacy.noise-multiplier", "1e-6");
        settings.put("privacy.clipped-count-stddev", "1e-6");
        settings.put("privacy.clipping", "adaptive");
        settings.put("privacy.target-quantile", "0.5");
        settings.put("privacy.clip-learning-rate", "0.2");
        settings.put("privacy.clip-norm", Double.toString(c0));
        settings.put("privacy.clip-on", "learner");
        settings.put("privacy.noise-seed", "3");
        try (FederationHarness h = FederationHarness.start(work, settings)) {
            List<RawLearner> ls = joinAll(h, 2);
            for (RawLearner l : ls) {
                Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
                assertThat(t.getTrain().getClipNorm()).isEqualTo(c0);
                float[] update = new float[N];
                float[] delta = pattern(0.01f, 1); // norm ~0.43 < 2
                for (int k = 0; k < N; k++) {
                    update[k] = g0[k] + delta[k];
                }
                l.submit(1, SPECS, update, 100, Map.of());
            }
            float[] g1 = null;
            double[] sum = new double[N];
            for (int i = 0; i < 2; i++) {
                RawLearner l = ls.get(i);
                Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
                assertThat(t.getRound()).isEqualTo(2);
                assertThat(t.getTrain().getClipNorm()).isCloseTo(c1, within(1e-6));
                if (g1 == null) {
                    g1 = l.getModel().values();
                }
                float[] update = new float[N];
                float[] delta = pattern(1f, i); // norm ~43: clipped to c1
                for (int k = 0; k < N; k++) {
                    update[k] = g1[k] + delta[k];
                }
                double[] c = clippedDelta(update, g1, c1);
                for (int k = 0; k < N; k++) {
                    sum[k] += c[k];
                }
                l.submit(2, SPECS, update, 100, Map.of());
            }
            List<RoundResult> results = h.awaitResults(2, WAIT);
            assertThat(results.get(0).clipNorm).isEqualTo(c0);
            assertThat(results.get(1).clipNorm).isCloseTo(c1, within(1e-6));
            RawLearner.Model g2 = ls.get(0).getModel();
            assertThat(g2.version()).isEqualTo(2);
            for (int k = 0; k < N; k++) {
                assertThat((double) g2.values()[k] - g1[k])
                        .as("value %d", k)
                        .isCloseTo(sum[k] / 2, within(1e-5));
            }
            for (RawLearner l : ls) {
                l.close();
            }
        }
    }
}
