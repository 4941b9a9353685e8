package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
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
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.simulator.RawLearner;

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
                RawLearner.Model m = l.getModel();
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
                if (i == 0) {
                    // Each evaluation task is reported once: a second report is refused and
                    // the first one's values stand (checked in the round's metrics below).
                    assertRefused(
                            () -> l.evaluate(1, 1000, Map.of("accuracy", 0.9)),
                            Status.Code.FAILED_PRECONDITION,
                            "already reported");
                }
            }
            RawLearner.Model global = learners.get(0).getModel();
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

    @Test
    void retriedUpdateIsCountedOnce() throws Exception {
        int n = 3700;
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "2",
                                        "federation.min-learners", "2",
                                        "federation.initial-model", initialModel(n).toString(),
                                        "evaluation.enabled", "false",
                                        "aggregation.shard-size", "1024"));
                RawLearner a = h.learner(0);
                RawLearner b = h.learner(0)) {
            a.join("a", 1000);
            b.join("b", 3000);
            a.openTaskStream();
            b.openTaskStream();
            a.nextTask(Task.KindCase.TRAIN, WAIT);
            b.nextTask(Task.KindCase.TRAIN, WAIT);
            float[] ua = pattern(n, 1, 0);
            float[] ub = pattern(n, 3, 1);
            // An update's weight is bounded by the examples declared at join (x the task's one
            // epoch): a claim of 10^12 is refused, and does not count in the mean below.
            assertRefused(
                    () -> a.submit(1, SPECS, pattern(n, 50, 2), 1_000_000_000_000L, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "declared at join");
            assertThat(a.submit(1, SPECS, ua, 1000, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(a.submit(1, SPECS, ua, 1000, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.DUPLICATE);
            assertThat(b.submit(1, SPECS, ub, 3000, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            a.nextTask(Task.KindCase.TRAIN, WAIT); // round 2 opened: round 1 closed
            RawLearner.Model global = a.getModel();
            assertThat(global.version()).isEqualTo(1);
            for (int k = 0; k < n; k++) {
                assertThat((double) global.values()[k])
                        .isCloseTo((1000.0 * ua[k] + 3000.0 * ub[k]) / 4000, within(1e-6));
            }
            assertThat(h.awaitResults(1, WAIT).get(0).contributors).hasSize(2);
        }
    }

    @Test
    void silentParticipantLetsTheRoundCloseAtItsDeadlineWithTheQuorum() throws Exception {
        int n = 3700;
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "3",
                                        "federation.min-learners", "3",
                                        "federation.initial-model", initialModel(n).toString(),
                                        "evaluation.enabled", "false",
                                        "round.timeout", "3 s",
                                        "round.quorum", "0.5",
                                        "aggregation.shard-size", "1024"));
                RawLearner a = h.learner(0);
                RawLearner b = h.learner(0);
                RawLearner silent = h.learner(0)) {
            a.join("a", 100);
            b.join("b", 100);
            silent.join("silent", 100);
            a.openTaskStream();
            b.openTaskStream();
            silent.openTaskStream();
            a.nextTask(Task.KindCase.TRAIN, WAIT);
            b.nextTask(Task.KindCase.TRAIN, WAIT);
            a.submit(1, SPECS, pattern(n, 1, 0), 100, Map.of());
            b.submit(1, SPECS, pattern(n, 3, 0), 100, Map.of());
            // The federation goes on: round 2 reaches the learners that answered.
            Task next = a.nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(next.getRound()).isEqualTo(2);
            RoundResult r1 = h.awaitResults(1, WAIT).get(0);
            assertThat(r1.aborted).isFalse();
            assertThat(r1.participants).isEqualTo(3);
            assertThat(r1.contributors).containsExactlyInAnyOrder(a.id(), b.id());
            assertThat(r1.roundTimeMs).isGreaterThanOrEqualTo(2_900);
            RawLearner.Model global = a.getModel();
            assertThat(global.version()).isEqualTo(1);
            assertThat((double) global.values()[5])
                    .isCloseTo((pattern(n, 1, 0)[5] + pattern(n, 3, 0)[5]) / 2.0, within(1e-6));
            // An update for the round that closed is refused with a reason.
            assertThatThrownBy(() -> silent.submit(1, SPECS, pattern(n, 1, 0), 100, Map.of()))
                    .isInstanceOfSatisfying(
                            StatusRuntimeException.class,
                            e -> {
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                                assertThat(e.getStatus().getDescription()).contains("not open");
                            });
        }
    }

    @Test
    void badInputGetsAStatusWithAReasonAndTheFederationGoesOn() throws Exception {
        int n = 3700;
        try (FederationHarness h =
                        FederationHarness.start(
                                work,
                                Map.of(
                                        "federation.rounds", "2",
                                        "federation.min-learners", "1",
                                        "federation.initial-model", initialModel(n).toString(),
                                        "evaluation.enabled", "false",
                                        "gateway.max-message-size", "1 mb",
                                        "aggregation.shard-size", "1024"));
                RawLearner l = h.learner(0)) {
            l.join("l", 100);
            l.openTaskStream();
            l.nextTask(Task.KindCase.TRAIN, WAIT);
            float[] good = pattern(n, 2, 0);

            List<TensorSpec> wrongShape =
                    List.of(RawLearner.spec("dense/kernel", 60, 50), SPECS.get(1));
            assertRefused(
                    () -> l.submit(1, wrongShape, good, 100, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "shape");
            float[] nan = good.clone();
            nan[3005] = Float.NaN;
            assertRefused(
                    () -> l.submit(1, SPECS, nan, 100, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "dense/bias");
            float[] inf = good.clone();
            inf[7] = Float.POSITIVE_INFINITY;
            assertRefused(
                    () -> l.submit(1, SPECS, inf, 100, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "finite");
            assertRefused(
                    () -> l.submit(7, SPECS, good, 100, Map.of()),
                    Status.Code.FAILED_PRECONDITION,
                    "not open");
            assertRefused(
                    () -> l.submit(1, SPECS, good, 0, Map.of()),
                    Status.Code.INVALID_ARGUMENT,
                    "num_training_examples");

            Credentials real = l.credentials();
            l.useCredentials(real.toBuilder().setToken("forged").build());
            assertRefused(
                    () -> l.submit(1, SPECS, good, 100, Map.of()),
                    Status.Code.UNAUTHENTICATED,
                    "invalid token");
            l.useCredentials(
                    Credentials.newBuilder().setLearnerId("mallory").setToken("x").build());
            assertRefused(
                    () -> l.submit(1, SPECS, good, 100, Map.of()),
                    Status.Code.UNAUTHENTICATED,
                    "unknown learner");
            l.useCredentials(real);

            UpdateHeader header =
                    UpdateHeader.newBuilder()
                            .setCredentials(real)
                            .setRound(1)
                            .setNumTrainingExamples(100)
                            .addAllTensors(SPECS)
                            .setCrc32C(RawLearner.crc32c(RawLearner.bytes(good)))
                            .build();
            ByteString all = RawLearner.bytes(good);
            assertRefused(
                    () ->
                            l.submitRaw(
                                    List.of(
                                            UpdateChunk.newBuilder().setHeader(header).build(),
                                            UpdateChunk.newBuilder()
                                                    .setData(all.substring(0, all.size() / 2))
                                                    .setOffset(0)
                                                    .build())),
                    Status.Code.INVALID_ARGUMENT,
                    "truncated");
            // Integrity: two swapped chunks, and one flipped bit, are refused naming the reason.
            l.chunkBytes(1001);
            List<UpdateChunk> inOrder = l.updateChunks(1, SPECS, good, 100, Map.of());
            List<UpdateChunk> swapped = new java.util.ArrayList<>(inOrder);
            java.util.Collections.swap(swapped, 1, 2);
            assertRefused(
                    () -> l.submitRaw(swapped),
                    Status.Code.INVALID_ARGUMENT,
                    "chunks are missing, repeated or out of order");
            List<UpdateChunk> corrupted = new java.util.ArrayList<>(inOrder);
            byte[] flipped = corrupted.get(1).getData().toByteArray();
            flipped[0] ^= 1;
            corrupted.set(
                    1, corrupted.get(1).toBuilder().setData(ByteString.copyFrom(flipped)).build());
            assertRefused(
                    () -> l.submitRaw(corrupted),
                    Status.Code.INVALID_ARGUMENT,
                    "the bytes were corrupted");
            assertRefused(
                    () ->
                            l.submitRaw(
                                    List.of(
                                            UpdateChunk.newBuilder()
                                                    .setData(ByteString.copyFrom(new byte[16]))
                                                    .build())),
                    Status.Code.INVALID_ARGUMENT,
                    "header");
            assertRefused(
                    () ->
                            l.submitRaw(
                                    List.of(
                                            UpdateChunk.newBuilder().setHeader(header).build(),
                                            UpdateChunk.newBuilder()
                                                    .setData(ByteString.copyFrom(new byte[2 << 20]))
                                                    .setOffset(0)
                                                    .build())),
                    Status.Code.RESOURCE_EXHAUSTED,
                    "");

            // Nothing of the above counted: the round still takes the good update, and closes
            // with it alone.
            assertThat(l.submit(1, SPECS, good, 100, Map.of()).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
            assertThat(l.getModel().values()).containsExactly(good);
        }
    }

    private static void assertRefused(
            org.assertj.core.api.ThrowableAssert.ThrowingCallable call,
            Status.Code code,
            String reason) {
        assertThatThrownBy(call)
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(code);
                            assertThat(e.getStatus().getDescription()).contains(reason);
                        });
    }
}
