package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Local pre-aggregation with two gateways over real gRPC: each gateway folds the learners that
 * joined through it (their ids are homed there), and a learner's update that reaches both gateways
 * (a resend after a call broken before its answer, a learner that uploads the same round through
 * both at once) counts once. The model is the weighted mean computed here, each learner once.
 */
class MultiGatewayPreAggregationITCase {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int N = 3000;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final int LEARNERS = 6;

    @TempDir Path work;

    private static float[] update(int learner, long round, float shift) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (learner + 1) * (float) Math.sin(i * 0.37 + round) + learner + shift;
        }
        return v;
    }

    private static long examples(int learner) {
        return 10L * (learner + 1);
    }

    /** Learner 1's two uploads of round 2: through its home (shift 0) and through the other. */
    private static final float HOSTILE_SHIFT = 50f;

    @Test
    void anUpdateReachingBothGatewaysCountsOnceWhetherResentOrUploadedTwice() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(10);
        List<RawLearner> learners = new ArrayList<>();
        List<RawLearner> extra = new ArrayList<>();
        try (FederationHarness h =
                FederationHarness.start(
                        work,
                        Map.of(
                                "gateway.parallelism", "2",
                                "job.parallelism", "2",
                                "federation.rounds", "3",
                                "evaluation.enabled", "false",
                                "federation.min-learners", Integer.toString(LEARNERS),
                                "aggregation.shard-size", "1024",
                                "aggregation.pre-aggregate", "true",
                                // Answers wait for the checkpoint: a call can break before it.
                                "job.checkpoint-interval", "2 s"))) {
            assertThat(FederationPipeline.preAggregation(h.config())).isNotNull();
            // Learners 0-3 join through gateway 0, 4 and 5 through gateway 1.
            for (int i = 0; i < LEARNERS; i++) {
                int gateway = i < 4 ? 0 : 1;
                RawLearner l = h.learner(gateway);
                l.join("learner-" + i, examples(i));
                assertThat(PartialSums.homeGateway(l.id(), 2))
                        .as("the home of a learner that joined through gateway %d", gateway)
                        .isEqualTo(gateway);
                learners.add(l);
            }
            assertThat(learners.get(0).submit(0, SPECS, new float[N], 10, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            for (RawLearner l : learners) {
                l.openTaskStream();
            }

            // Round 1, the round open when the gateways started (never folded): everyone once.
            RawLearnerWaits.awaitTrain(learners, 1, WAIT);
            List<CompletableFuture<SubmitUpdateResponse>> calls = new ArrayList<>();
            for (int i = 0; i < LEARNERS; i++) {
                calls.add(submitAsync(pool, learners.get(i), i, 1, 0f));
            }
            for (CompletableFuture<SubmitUpdateResponse> c : calls) {
                assertThat(c.get(60, TimeUnit.SECONDS).getStatus())
                        .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            }

            // Round 2: every upload at once, so the home gateways fold what queues up together.
            RawLearnerWaits.awaitTrain(learners, 2, WAIT);
            // Learner 0's call to its home gateway breaks before the answer (its channel is shut
            // down while the answer awaits the checkpoint); it sends again through gateway 1.
            RawLearner broken = h.learner(0).useCredentials(learners.get(0).credentials());
            extra.add(broken);
            RawLearner hostile = h.learner(1).useCredentials(learners.get(1).credentials());
            extra.add(hostile);
            RawLearner resend4 = h.learner(0).useCredentials(learners.get(4).credentials());
            extra.add(resend4);
            calls.clear();
            CompletableFuture<SubmitUpdateResponse> lost = submitAsync(pool, broken, 0, 2, 0f);
            for (int i = 1; i < LEARNERS; i++) {
                calls.add(submitAsync(pool, learners.get(i), i, 2, 0f));
            }
            // Learner 1 uploads round 2 through both gateways at once, different values each.
            calls.add(submitAsync(pool, hostile, 1, 2, HOSTILE_SHIFT));
            // Learner 4's update, sent again through the gateway that is not its home.
            calls.add(submitAsync(pool, resend4, 4, 2, 0f));
            Thread.sleep(300);
            broken.close();
            try {
                lost.get(10, TimeUnit.SECONDS); // answered before the channel went: a duplicate
            } catch (java.util.concurrent.ExecutionException e) {
                // the call broke without an answer, as intended
            }
            RawLearner again = h.learner(1).useCredentials(learners.get(0).credentials());
            extra.add(again);
            calls.add(submitAsync(pool, again, 0, 2, 0f));
            for (CompletableFuture<SubmitUpdateResponse> c : calls) {
                assertThat(c.get(60, TimeUnit.SECONDS).getStatus())
                        .isIn(
                                SubmitUpdateResponse.Status.ACCEPTED,
                                SubmitUpdateResponse.Status.DUPLICATE);
            }

            // Round 3's task carries round 2's model: every learner counted once. Learner 1's
            // copies differ; each shard counts one of them (as without pre-aggregation).
            RawLearnerWaits.awaitTrain(learners, 3, WAIT);
            RawLearner.Model m = learners.get(2).getModel();
            assertThat(m.version()).isEqualTo(2);
            float[][] expected = {expected(2, 0f), expected(2, HOSTILE_SHIFT)};
            for (int shard = 0; shard * 1024 < N; shard++) {
                int from = shard * 1024;
                int to = Math.min(N, from + 1024);
                boolean matched = false;
                for (float[] e : expected) {
                    boolean all = true;
                    for (int i = from; i < to && all; i++) {
                        all = Math.abs(m.values()[i] - e[i]) <= 1e-4f;
                    }
                    matched |= all;
                }
                assertThat(matched)
                        .as(
                                "shard %d is the weighted mean of the six learners, each once"
                                        + " (value %d: %f, expected %f or %f)",
                                shard, from, m.values()[from], expected[0][from], expected[1][from])
                        .isTrue();
            }

            for (int i = 0; i < LEARNERS; i++) {
                learners.get(i).submit(3, SPECS, update(i, 3, 0f), examples(i), Map.of());
            }
            for (RawLearner l : learners) {
                assertThat(l.nextTask(WAIT).getKindCase()).isEqualTo(Task.KindCase.SHUTDOWN);
            }
            h.awaitCompletion(WAIT);
            assertThat(h.federation().status()).isEqualTo(JobStatus.FINISHED);
            List<String> ids = new ArrayList<>();
            for (RawLearner l : learners) {
                ids.add(l.id());
            }
            for (RoundResult r : h.results()) {
                assertThat(r.contributors).containsExactlyInAnyOrderElementsOf(ids);
            }
        } finally {
            for (RawLearner l : learners) {
                l.close();
            }
            for (RawLearner l : extra) {
                l.close();
            }
            pool.shutdownNow();
        }
    }

    /**
     * The weighted mean of round {@code round}'s updates, learner 1's shifted by {@code shift1}.
     */
    private static float[] expected(long round, float shift1) {
        double total = 0;
        for (int l = 0; l < LEARNERS; l++) {
            total += examples(l);
        }
        float[][] updates = new float[LEARNERS][];
        for (int l = 0; l < LEARNERS; l++) {
            updates[l] = update(l, round, l == 1 ? shift1 : 0f);
        }
        float[] mean = new float[N];
        for (int i = 0; i < N; i++) {
            double sum = 0;
            for (int l = 0; l < LEARNERS; l++) {
                sum += examples(l) * updates[l][i];
            }
            mean[i] = (float) (sum / total);
        }
        return mean;
    }

    private static CompletableFuture<SubmitUpdateResponse> submitAsync(
            ExecutorService pool, RawLearner l, int learner, long round, float shift) {
        return CompletableFuture.supplyAsync(
                () ->
                        l.submit(
                                round,
                                SPECS,
                                update(learner, round, shift),
                                examples(learner),
                                Map.of()),
                pool);
    }
}
