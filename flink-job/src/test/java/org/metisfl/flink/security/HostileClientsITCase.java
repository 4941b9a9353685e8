package org.metisfl.flink.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.metisfl.flink.security.EnrolledFederation.EXAMPLES;
import static org.metisfl.flink.security.EnrolledFederation.N;
import static org.metisfl.flink.security.EnrolledFederation.SPECS;
import static org.metisfl.flink.security.EnrolledFederation.pattern;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.connector.gateway.server.GatewayState;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.transport.DevSecurity;

/**
 * Hostile clients against a running federation (TLS, enrollment, MiniCluster with RocksDB, real
 * gRPC on 127.0.0.1): a participant sending its update a byte a second, a client holding 2,000 idle
 * upload streams, 500 calls that never send their request, and a participant opening 300
 * header-only uploads. The well-behaved learners' uploads are answered at once, their rounds close
 * within the configured round timeout, and the global model is theirs; every hostile call ends with
 * a status and a reason.
 */
class HostileClientsITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration ROUND_TIMEOUT = Duration.ofSeconds(12);

    /**
     * Longer than the slow client's second between bytes plus what a loaded machine adds to it, so
     * that client is ended by the minimum rate (after {@link #RATE_GRACE}), not by idling.
     */
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(4);

    private static final Duration RATE_GRACE = Duration.ofSeconds(2);
    private static final int MAX_CALLS_PER_CONNECTION = 1_000;
    private static final int IDLE_STREAMS = 2_000;
    private static final int HEADER_ONLY_UPLOADS = 300;
    private static final int SILENT_CALLS = 500;

    /**
     * What a loaded 2-core machine adds to a deadline: the gateway's timeout check runs once a
     * second, the coordinator sees the watermark pass with the next checkpoint.
     */
    private static final Duration MARGIN = Duration.ofSeconds(8);

    @TempDir Path work;

    @Test
    void hostileClientsDoNotDelayTheRoundsOfWellBehavedLearners() throws Exception {
        DevSecurity dev = DevSecurity.ensure(work.resolve("certs"));
        Map<String, String> settings = EnrolledFederation.settings(dev, work, 2, 5);
        settings.put("round.timeout", ROUND_TIMEOUT.toSeconds() + " s");
        settings.put("round.quorum", "0.5");
        settings.put("gateway.limits.upload-idle-timeout", IDLE_TIMEOUT.toSeconds() + " s");
        settings.put("gateway.limits.upload-rate-grace", RATE_GRACE.toSeconds() + " s");
        settings.put("gateway.limits.upload-min-rate", "16 kb");
        settings.put(
                "gateway.limits.max-calls-per-connection",
                Integer.toString(MAX_CALLS_PER_CONNECTION));
        String enrollment = dev.enrollmentToken(0);
        long[] examples = EXAMPLES;
        List<TlsLearner> good = new ArrayList<>();
        try (FederationHarness h = FederationHarness.start(work, settings);
                TlsLearner headerOnly = new TlsLearner(dev, h.port(0));
                TlsLearner slow = new TlsLearner(dev, h.port(0))) {
            EnrolledFederation.joinWellBehaved(dev, h.port(0), enrollment, good);
            headerOnly.join("header-only", 1000, enrollment);
            headerOnly.openTaskStream();
            slow.join("slow", 1000, enrollment);
            slow.openTaskStream();
            assertThat(headerOnly.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            slow.nextTask(Task.KindCase.TRAIN, WAIT);
            GatewayState gateway = LocalGateways.states().get(0);

            // The attack: all three at once, then the well-behaved learners' uploads.
            List<CompletableFuture<Status>> idle = idleStreams(dev, h.port(0));
            List<CompletableFuture<TlsLearner.Outcome>> headers = new ArrayList<>();
            for (int i = 0; i < HEADER_ONLY_UPLOADS; i++) {
                headers.add(headerOnly(headerOnly, pattern(9, i)));
            }
            CompletableFuture<TlsLearner.Outcome> slowUpload = byteASecond(slow, pattern(7, 1));
            ManagedChannel silentChannel =
                    NettyChannelBuilder.forAddress(
                                    "127.0.0.1",
                                    h.port(0),
                                    dev.learnerTransport().channelCredentials())
                            .build();
            long silentStart = System.nanoTime();
            List<CompletableFuture<Status>> silent = silentCalls(silentChannel);
            java.util.concurrent.atomic.AtomicLong silentEnd =
                    new java.util.concurrent.atomic.AtomicLong();
            for (CompletableFuture<Status> f : silent) {
                f.whenComplete((st, e) -> silentEnd.accumulateAndGet(System.nanoTime(), Math::max));
            }

            float[][] updates = new float[3][];
            for (int i = 0; i < 3; i++) {
                TlsLearner l = good.get(i);
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
                assertThat(l.getModel().values()).containsExactly(pattern(0.1f, 0));
                updates[i] = pattern(i + 1, i);
                long start = System.nanoTime();
                TlsLearner.Outcome o = l.submit(l.chunks(1, SPECS, updates[i], examples[i]));
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                assertThat(o.accepted()).as("%s: %s", l.id(), o).isTrue();
                // Answered once its checkpoint completed (every 200 ms), not after the
                // hostile clients' timeouts: well under the idle timeout plus a margin.
                assertThat(took).as("upload of %s under attack", l.id()).isLessThan(MARGIN);
            }

            // Every hostile call ends, with a status that names its reason.
            Map<Status.Code, Long> idleCodes = awaitCodes(idle);
            assertThat(idleCodes).containsOnlyKeys(Status.Code.DEADLINE_EXCEEDED);
            assertThat(idle.stream().map(CompletableFuture::join))
                    .allSatisfy(
                            s ->
                                    assertThat(s.getDescription())
                                            .contains("gateway.limits.upload-idle-timeout"));
            // Calls that never send their request are ended by the gateway after the idle
            // timeout, with the key, not by the client's (60 s) deadline.
            assertThat(awaitCodes(silent))
                    .as("%s", silent.get(0).join())
                    .containsOnlyKeys(Status.Code.DEADLINE_EXCEEDED);
            assertThat(silent.stream().map(CompletableFuture::join))
                    .allSatisfy(
                            st ->
                                    assertThat(st.getDescription())
                                            .contains("gateway.limits.upload-idle-timeout"));
            assertThat(Duration.ofNanos(silentEnd.get() - silentStart))
                    .isLessThanOrEqualTo(IDLE_TIMEOUT.plus(MARGIN));
            silentChannel.shutdownNow();
            TlsLearner.Outcome slowEnd = slowUpload.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(slowEnd.status().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
            assertThat(slowEnd.status().getDescription())
                    .contains("gateway.limits.upload-min-rate");
            List<Status> headerEnds = new ArrayList<>();
            for (CompletableFuture<TlsLearner.Outcome> f : headers) {
                headerEnds.add(f.get(WAIT.toSeconds(), TimeUnit.SECONDS).status());
            }
            Map<Status.Code, Long> headerCodes =
                    headerEnds.stream()
                            .collect(Collectors.groupingBy(Status::getCode, Collectors.counting()));
            // One upload per learner and round: each newer header replaces the older (ABORTED),
            // and the last one is ended by the minimum rate (its room was granted, no byte came)
            // or the idle timeout, whichever the gateway's once-a-second check sees first.
            assertThat(headerCodes)
                    .containsExactlyInAnyOrderEntriesOf(
                            Map.of(
                                    Status.Code.ABORTED,
                                    HEADER_ONLY_UPLOADS - 1L,
                                    Status.Code.DEADLINE_EXCEEDED,
                                    1L));
            assertThat(headerEnds)
                    .allSatisfy(
                            s ->
                                    assertThat(s.getDescription())
                                            .containsAnyOf(
                                                    "replaced by a newer upload",
                                                    "gateway.limits.upload-idle-timeout",
                                                    "gateway.limits.upload-min-rate"));

            // Round 1 closed at its deadline with the three well-behaved contributions (the two
            // hostile participants never completed an upload), not later.
            RoundResult r1 = h.awaitResults(1, WAIT).get(0);
            assertThat(r1.contributors)
                    .containsExactlyInAnyOrder(
                            good.get(0).id(), good.get(1).id(), good.get(2).id());
            assertThat(r1.aborted).isFalse();
            assertThat(Duration.ofMillis(r1.closedAtMs - r1.startedAtMs))
                    .isLessThanOrEqualTo(ROUND_TIMEOUT.plus(MARGIN));
            assertThat(gateway.uploadsInFlight()).isZero();
            assertThat(gateway.ingestWaiting()).isZero();

            // The hostile participants go; round 2 is the well-behaved learners' alone and
            // closes as soon as they have contributed, well before its deadline.
            headerOnly.close();
            slow.close();
            TlsLearner.Model global = null;
            float[][] second = new float[3][];
            for (int i = 0; i < 3; i++) {
                TlsLearner l = good.get(i);
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                global = l.getModel();
                second[i] = pattern(i + 2, 2 * i);
                assertThat(l.submit(l.chunks(2, SPECS, second[i], examples[i])).accepted())
                        .isTrue();
            }
            assertFedAvg(global, examples, updates, 1);
            RoundResult r2 = h.awaitResults(2, WAIT).get(1);
            assertThat(r2.contributors).hasSize(3);
            assertThat(Duration.ofMillis(r2.closedAtMs - r2.startedAtMs)).isLessThan(ROUND_TIMEOUT);
            h.awaitCompletion(WAIT);
        } finally {
            for (TlsLearner l : good) {
                l.close();
            }
        }
    }

    /** The model is the example-weighted mean of the updates, computed here independently. */
    static void assertFedAvg(TlsLearner.Model m, long[] examples, float[][] updates, long version) {
        assertThat(m.version()).isEqualTo(version);
        double total = 0;
        for (long e : examples) {
            total += e;
        }
        for (int k = 0; k < N; k++) {
            double sum = 0;
            for (int i = 0; i < updates.length; i++) {
                sum += examples[i] * (double) updates[i][k];
            }
            assertThat((double) m.values()[k]).isCloseTo(sum / total, within(1e-6));
        }
    }

    /**
     * 2,000 uploads on one connection that never send anything: the gateway serves at most {@code
     * max-calls-per-connection} at once (the client queues the others) and ends each after its idle
     * timeout.
     */
    private static List<CompletableFuture<Status>> idleStreams(DevSecurity dev, int port) {
        ManagedChannel channel =
                NettyChannelBuilder.forAddress(
                                "127.0.0.1", port, dev.learnerTransport().channelCredentials())
                        .build();
        List<CompletableFuture<Status>> ends = new ArrayList<>();
        for (int i = 0; i < IDLE_STREAMS; i++) {
            CompletableFuture<Status> end = new CompletableFuture<>();
            ends.add(end);
            LearnerServiceGrpc.newStub(channel)
                    .withDeadlineAfter(WAIT.toSeconds(), TimeUnit.SECONDS)
                    .submitUpdate(
                            new StreamObserver<>() {
                                @Override
                                public void onNext(org.metisfl.proto.v1.SubmitUpdateResponse r) {}

                                @Override
                                public void onError(Throwable t) {
                                    end.complete(Status.fromThrowable(t));
                                }

                                @Override
                                public void onCompleted() {
                                    end.complete(Status.OK);
                                }
                            });
        }
        CompletableFuture.allOf(ends.toArray(new CompletableFuture[0]))
                .whenComplete((r, e) -> channel.shutdownNow());
        return ends;
    }

    /**
     * 500 unary and server-streaming calls (join, model download, token renewal, evaluation report,
     * health check) that are opened and never send their request.
     */
    private static List<CompletableFuture<Status>> silentCalls(ManagedChannel channel) {
        io.grpc.MethodDescriptor<?, ?>[] methods = {
            LearnerServiceGrpc.getJoinMethod(),
            LearnerServiceGrpc.getGetModelMethod(),
            LearnerServiceGrpc.getRenewTokenMethod(),
            LearnerServiceGrpc.getSubmitEvaluationMethod(),
            io.grpc.health.v1.HealthGrpc.getCheckMethod()
        };
        List<CompletableFuture<Status>> ends = new ArrayList<>();
        for (int i = 0; i < SILENT_CALLS; i++) {
            ends.add(
                    RawProbes.call(
                            channel,
                            methods[i % methods.length],
                            List.of(),
                            false,
                            null,
                            null,
                            WAIT));
        }
        // grpc-java sends a unary call's HEADERS with its request, so those calls would not reach
        // the gateway at all: a streaming call's start flushes them (a hand-written client sends
        // the HEADERS frames alone). That upload is ended by the idle timeout too.
        ends.add(
                RawProbes.call(
                        channel,
                        LearnerServiceGrpc.getSubmitUpdateMethod(),
                        List.of(),
                        false,
                        null,
                        null,
                        WAIT));
        return ends;
    }

    /** An upload that sends a valid header and then nothing. */
    private static CompletableFuture<TlsLearner.Outcome> headerOnly(
            TlsLearner participant, float[] values) {
        CompletableFuture<TlsLearner.Outcome> end = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                participant.async(WAIT).submitUpdate(TlsLearner.observer(end));
        out.onNext(
                UpdateChunk.newBuilder()
                        .setHeader(participant.header(1, SPECS, values, 1000))
                        .build());
        return end;
    }

    /** An upload that sends its header and then one byte a second, with correct offsets. */
    private static CompletableFuture<TlsLearner.Outcome> byteASecond(
            TlsLearner participant, float[] values) {
        CompletableFuture<TlsLearner.Outcome> end = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out =
                participant.async(WAIT).submitUpdate(TlsLearner.observer(end));
        out.onNext(
                UpdateChunk.newBuilder()
                        .setHeader(participant.header(1, SPECS, values, 1000))
                        .build());
        var bytes = TlsLearner.bytes(values);
        Thread t =
                new Thread(
                        () -> {
                            for (int off = 0; off < bytes.size() && !end.isDone(); off++) {
                                out.onNext(
                                        UpdateChunk.newBuilder()
                                                .setData(bytes.substring(off, off + 1))
                                                .setOffset(off)
                                                .build());
                                try {
                                    Thread.sleep(1000);
                                } catch (InterruptedException e) {
                                    return;
                                }
                            }
                        },
                        "byte-a-second");
        t.setDaemon(true);
        t.start();
        return end;
    }

    private static Map<Status.Code, Long> awaitCodes(List<CompletableFuture<Status>> calls)
            throws Exception {
        CompletableFuture.allOf(calls.toArray(new CompletableFuture[0]))
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
        return calls.stream()
                .map(f -> f.join().getCode())
                .collect(Collectors.groupingBy(c -> c, Collectors.counting()));
    }
}
