package org.metisfl.flink.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.security.EnrolledFederation.EXAMPLES;
import static org.metisfl.flink.security.EnrolledFederation.N;
import static org.metisfl.flink.security.EnrolledFederation.SPECS;
import static org.metisfl.flink.security.EnrolledFederation.pattern;

import com.google.protobuf.ByteString;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.logging.log4j.core.LogEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.connector.gateway.server.GatewayState;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.RenewTokenRequest;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.DevSecurity;

/**
 * A bounded fuzz test (fixed seed, bounded counts and wall time) of a running federation's gateway:
 * random and mutated protobuf messages of every learner call, uploads with their chunks reordered,
 * repeated or dropped, oversized metadata and messages, directives on the control endpoint, and raw
 * connections with garbage, half a TLS hello or half an HTTP/2 frame, on both ports, while three
 * well-behaved learners run their rounds over TLS with enrollment (MiniCluster, RocksDB, real gRPC
 * on 127.0.0.1).
 *
 * <p>It asserts that every call ends with a status and every raw connection is closed by the
 * gateway within its limits, that the rounds complete with the example-weighted mean of the
 * well-behaved updates (computed here), that the gateway's ingest accounting stays within its
 * budget and returns to zero, and that the log gets no line per malformed request.
 */
class GatewayFuzzITCase {
    private static final long SEED = 20261206L;
    private static final int LEARNER_CALLS = 1_200;
    private static final int CONTROL_CALLS = 300;
    private static final int RAW_REPEATS = 2;
    private static final Duration FUZZ_WALL_TIME = Duration.ofSeconds(40);
    private static final Duration CALL_DEADLINE = Duration.ofSeconds(5);
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration CONNECTION_IDLE = Duration.ofSeconds(4);
    private static final Duration UPLOAD_IDLE = Duration.ofSeconds(2);

    /** What a loaded 2-core machine may add to a gateway timeout before the socket closes. */
    private static final Duration MARGIN = Duration.ofSeconds(8);

    private static final long UPDATE_BYTES = N * 4L;

    /** The documented ingest budget: {@code max(256 MiB, 4 × model bytes)}. */
    private static final long INGEST_BUDGET = Math.max(256L << 20, 4 * UPDATE_BYTES);

    @TempDir Path work;

    @Test
    void fuzzedCallsAndConnectionsEndWithAStatusWhileTheFederationCompletesItsRounds()
            throws Exception {
        DevSecurity dev = DevSecurity.ensure(work.resolve("certs"));
        Map<String, String> settings = EnrolledFederation.settings(dev, work, 3, 3);
        settings.put("gateway.limits.handshake-timeout", HANDSHAKE_TIMEOUT.toSeconds() + " s");
        settings.put("gateway.limits.connection-idle-timeout", CONNECTION_IDLE.toSeconds() + " s");
        settings.put("gateway.limits.upload-idle-timeout", UPLOAD_IDLE.toSeconds() + " s");
        String enrollment = dev.enrollmentToken(0);
        long[] examples = EXAMPLES;
        List<TlsLearner> good = new ArrayList<>();
        try (LogCapture log = LogCapture.install();
                FederationHarness h = FederationHarness.start(work, settings);
                TlsLearner fuzzer = new TlsLearner(dev, h.port(0))) {
            EnrolledFederation.joinWellBehaved(dev, h.port(0), enrollment, good);
            // Joined, never opens its task stream: never selected, so its calls reach every
            // check past authentication without becoming part of a round.
            fuzzer.join("fuzzer", 1000, enrollment);
            for (TlsLearner l : good) {
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
            }
            GatewayState gateway = LocalGateways.states().get(0);
            int controlPort = LocalGateways.controlPorts().iterator().next();

            Sampler sampler = new Sampler(gateway);
            sampler.start();
            log.record(true);
            long fuzzStart = System.nanoTime();
            Fuzz fuzz = new Fuzz(dev, h.port(0), controlPort, fuzzer, enrollment);
            ExecutorService background = Executors.newFixedThreadPool(2);
            Future<?> calls = background.submit(fuzz::runCalls);
            Future<List<RawProbes.Ended>> raw =
                    background.submit(() -> fuzz.runRawProbes(h.port(0), controlPort));

            // Meanwhile the well-behaved learners run rounds 1 and 2; each first sends a broken
            // upload (chunks swapped, missing, repeated, at a wrong offset, corrupted, or a second
            // header), which must be refused, then its real one.
            float[][][] updates = new float[3][][];
            int accepted = 0;
            for (int round = 1; round <= 2; round++) {
                updates[round] = new float[3][];
                for (int i = 0; i < 3; i++) {
                    TlsLearner l = good.get(i);
                    if (round > 1) {
                        assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound())
                                .isEqualTo(round);
                    }
                    TlsLearner.Model m = l.getModel();
                    if (round == 1) {
                        assertThat(m.values()).containsExactly(pattern(0.1f, 0));
                    } else {
                        HostileClientsITCase.assertFedAvg(
                                m, examples, updates[round - 1], round - 1);
                    }
                    updates[round][i] = pattern(i + round, 3 * i + round);
                    List<UpdateChunk> chunks =
                            l.chunks(round, SPECS, updates[round][i], examples[i]);
                    int variant = (round - 1) * 3 + i;
                    TlsLearner.Outcome broken = l.submit(broken(chunks, variant));
                    assertThat(broken.accepted())
                            .as("broken upload %d of %s: %s", variant, l.id(), broken)
                            .isFalse();
                    assertThat(broken.status().getCode())
                            .as("broken upload %d: %s", variant, broken.status())
                            .isEqualTo(Status.Code.INVALID_ARGUMENT);
                    TlsLearner.Outcome o = l.submit(chunks);
                    assertThat(o.accepted()).as("%s round %d: %s", l.id(), round, o).isTrue();
                    accepted++;
                }
            }
            calls.get(FUZZ_WALL_TIME.plus(WAIT).toSeconds(), TimeUnit.SECONDS);
            List<RawProbes.Ended> probes =
                    raw.get(FUZZ_WALL_TIME.plus(WAIT).toSeconds(), TimeUnit.SECONDS);
            background.shutdown();
            Duration fuzzTime = Duration.ofNanos(System.nanoTime() - fuzzStart);

            // Every fuzzed call ended with a status, none with an unhandled server error.
            Map<String, Map<Status.Code, Integer>> outcomes = fuzz.outcomes();
            System.out.printf(
                    "fuzz: %d calls, %d raw connections in %d ms: %s%n",
                    fuzz.launched.get(), probes.size(), fuzzTime.toMillis(), outcomes);
            System.out.println("UNKNOWN: " + fuzz.descriptions(Status.Code.UNKNOWN));
            System.out.println("INTERNAL: " + fuzz.descriptions(Status.Code.INTERNAL));
            System.out.println("UNAVAILABLE: " + fuzz.descriptions(Status.Code.UNAVAILABLE));
            for (RawProbes.Ended e : probes) {
                System.out.println("raw: " + e);
            }
            System.out.println("metadata above the limit: " + fuzz.bigMetadataOutcomes());
            assertThat(fuzz.launched.get()).isGreaterThan(200);
            assertThat(fuzz.unfinished()).as("calls without a status").isZero();
            // No call was ended by a fault of the gateway: the gateway counted none, and no
            // UNKNOWN the fuzzer got is gRPC's answer to one ("Application error processing RPC",
            // or a handler's error without a status). A client transport's own UNKNOWN (such as
            // "channel closed" when its connection went mid-call) is not the gateway's: printed.
            assertThat(gateway.metrics().callFaults())
                    .as("calls a fault of the gateway ended (see its log)")
                    .isZero();
            assertThat(fuzz.descriptions(Status.Code.UNKNOWN).keySet())
                    .as("UNKNOWN statuses from the gateway: an unhandled exception")
                    .noneMatch(d -> d.endsWith(": Application error processing RPC"))
                    .noneMatch(d -> d.endsWith(": null"));
            assertThat(outcomes.getOrDefault("SubmitUpdate", Map.of()))
                    .as("no fuzzed upload is accepted")
                    .doesNotContainKey(Status.Code.OK);
            assertThat(outcomes.getOrDefault("Publish", Map.of()))
                    .as("no fuzzed directive is applied")
                    .doesNotContainKey(Status.Code.OK);
            // Every raw connection was closed by the gateway within its limits.
            for (RawProbes.Ended e : probes) {
                assertThat(e.closedByServer())
                        .as("%s on port %d still open after %s", e.probe(), e.port(), e.after())
                        .isTrue();
            }

            // The gateway's ingest accounting: within its budget throughout (only the three
            // participants' uploads may hold room, two at most each), and back to nothing.
            awaitQuiet(gateway);
            sampler.stop();
            System.out.printf(
                    "ingest: peak %d bytes reserved, peak %d uploads in flight%n",
                    sampler.peakReserved.get(), sampler.peakInFlight.get());
            assertThat(sampler.peakReserved.get())
                    .isLessThanOrEqualTo(INGEST_BUDGET)
                    .isLessThanOrEqualTo(3 * 2 * UPDATE_BYTES);
            assertThat(gateway.ingestReservedBytes()).isZero();
            assertThat(gateway.ingestWaiting()).isZero();
            assertThat(gateway.uploadsInFlight()).isZero();
            assertThat(gateway.metrics().accepted()).isEqualTo(accepted);

            // The log: gRPC's lines rate-limited (one per logger per 10 s), nothing per request.
            Thread.sleep(500);
            log.record(false);
            Map<String, Integer> lines = log.perLogger();
            System.out.println("log lines during the fuzz, per logger: " + lines);
            long windows = fuzzTime.toSeconds() / 10 + 2;
            long others = 0;
            for (var e : lines.entrySet()) {
                if (e.getKey().startsWith("io.grpc")) {
                    assertThat((long) e.getValue()).as(e.getKey()).isLessThanOrEqualTo(windows);
                } else {
                    others += e.getValue();
                }
            }
            // Round progress and the few learners the valid enrollment token let join are
            // logged; the thousand malformed calls are not.
            assertThat(others).isLessThanOrEqualTo(fuzz.validJoins.get() + 30);
            for (LogEvent e : log.events()) {
                assertThat(e.getMessage().getFormattedMessage())
                        .as("a log line forged by a learner-supplied string")
                        .doesNotContain("\n")
                        .doesNotContain("\r");
            }

            // Round 3, after the storm: the federation completes with the right model.
            for (int i = 0; i < 3; i++) {
                TlsLearner l = good.get(i);
                assertThat(l.nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(3);
                HostileClientsITCase.assertFedAvg(l.getModel(), examples, updates[2], 2);
                assertThat(l.submit(l.chunks(3, SPECS, pattern(1, i), examples[i])).accepted())
                        .isTrue();
            }
            List<RoundResult> results = h.awaitResults(3, WAIT);
            List<String> ids = good.stream().map(TlsLearner::id).toList();
            for (RoundResult r : results) {
                assertThat(r.contributors).containsExactlyInAnyOrderElementsOf(ids);
            }
            h.awaitCompletion(WAIT);
        } finally {
            for (TlsLearner l : good) {
                l.close();
            }
        }
    }

    /** A broken form of a well-formed upload (header, then four data chunks). */
    static List<UpdateChunk> broken(List<UpdateChunk> chunks, int variant) {
        List<UpdateChunk> b = new ArrayList<>(chunks);
        switch (variant % 6) {
            case 0 -> Collections.swap(b, 1, 2);
            case 1 -> b.remove(2);
            case 2 -> b.add(3, b.get(2));
            case 3 -> b.set(2, b.get(2).toBuilder().setOffset(b.get(2).getOffset() + 1).build());
            case 4 -> {
                byte[] data = b.get(1).getData().toByteArray();
                data[7] ^= 0x10;
                b.set(1, b.get(1).toBuilder().setData(ByteString.copyFrom(data)).build());
            }
            default -> b.add(2, b.get(0));
        }
        return b;
    }

    private static void awaitQuiet(GatewayState g) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end
                && (g.uploadsInFlight() > 0 || g.ingestReservedBytes() > 0)) {
            Thread.sleep(50);
        }
    }

    /** Samples the gateway's ingest accounting every 2 ms. */
    private static final class Sampler {
        final AtomicLong peakReserved = new AtomicLong();
        final AtomicLong peakInFlight = new AtomicLong();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Sampler(GatewayState g) {
            thread =
                    new Thread(
                            () -> {
                                while (running.get()) {
                                    peakReserved.accumulateAndGet(
                                            g.ingestReservedBytes(), Math::max);
                                    peakInFlight.accumulateAndGet(g.uploadsInFlight(), Math::max);
                                    try {
                                        Thread.sleep(2);
                                    } catch (InterruptedException e) {
                                        return;
                                    }
                                }
                            },
                            "ingest-sampler");
            thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join();
        }
    }

    /** The fuzz cases, all drawn from one seeded {@link Random} on one thread. */
    private static final class Fuzz {
        private final Random random = new Random(SEED);
        private final Mutator mutator = new Mutator(random);
        private final DevSecurity dev;
        private final int learnerPort;
        private final int controlPort;
        private final TlsLearner fuzzer;
        private final String enrollment;
        private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
        private final Semaphore inFlight = new Semaphore(64);
        final AtomicLong launched = new AtomicLong();
        final AtomicLong validJoins = new AtomicLong();

        private record Call(String method, CompletableFuture<Status> end, boolean bigMetadata) {}

        Fuzz(DevSecurity dev, int learnerPort, int controlPort, TlsLearner fuzzer, String enroll) {
            this.dev = dev;
            this.learnerPort = learnerPort;
            this.controlPort = controlPort;
            this.fuzzer = fuzzer;
            this.enrollment = enroll;
        }

        Map<String, Map<Status.Code, Integer>> outcomes() {
            Map<String, Map<Status.Code, Integer>> m = new TreeMap<>();
            synchronized (calls) {
                for (Call c : calls) {
                    Status s = c.end.getNow(null);
                    if (s != null) {
                        m.computeIfAbsent(c.method, k -> new EnumMap<>(Status.Code.class))
                                .merge(s.getCode(), 1, Integer::sum);
                    }
                }
            }
            return m;
        }

        /** The distinct descriptions of the calls that ended with {@code code}. */
        Map<String, Integer> descriptions(Status.Code code) {
            Map<String, Integer> m = new TreeMap<>();
            synchronized (calls) {
                for (Call c : calls) {
                    Status s = c.end.getNow(null);
                    if (s != null && s.getCode() == code) {
                        m.merge(c.method + ": " + s.getDescription(), 1, Integer::sum);
                    }
                }
            }
            return m;
        }

        /** How the calls with metadata above gateway.limits.max-metadata-size ended. */
        Map<Status.Code, Integer> bigMetadataOutcomes() {
            Map<Status.Code, Integer> m = new EnumMap<>(Status.Code.class);
            synchronized (calls) {
                for (Call c : calls) {
                    if (c.bigMetadata && c.end.isDone()) {
                        m.merge(c.end.join().getCode(), 1, Integer::sum);
                    }
                }
            }
            return m;
        }

        long unfinished() {
            synchronized (calls) {
                return calls.stream().filter(c -> !c.end.isDone()).count();
            }
        }

        private ManagedChannel learnerChannel() {
            return NettyChannelBuilder.forAddress(
                            "127.0.0.1", learnerPort, dev.learnerTransport().channelCredentials())
                    .build();
        }

        private ManagedChannel controlChannel() {
            return NettyChannelBuilder.forAddress(
                            "127.0.0.1", controlPort, AnyCertificate.channelCredentials())
                    .build();
        }

        void runCalls() {
            long end = System.nanoTime() + FUZZ_WALL_TIME.toNanos();
            List<ManagedChannel> channels = new ArrayList<>();
            try {
                ManagedChannel[] learner = {learnerChannel(), learnerChannel(), learnerChannel()};
                ManagedChannel[] control = {controlChannel(), controlChannel()};
                Collections.addAll(channels, learner);
                Collections.addAll(channels, control);
                int total = LEARNER_CALLS + CONTROL_CALLS;
                for (int i = 0; i < total && System.nanoTime() < end; i++) {
                    inFlight.acquire();
                    boolean toControl = random.nextInt(total) < CONTROL_CALLS;
                    Call c =
                            toControl
                                    ? controlCase(control[random.nextInt(control.length)])
                                    : learnerCase(learner[random.nextInt(learner.length)]);
                    calls.add(c);
                    launched.incrementAndGet();
                    c.end.whenComplete((s, e) -> inFlight.release());
                }
                // Every call has a deadline: all end within it (and a margin).
                CompletableFuture.allOf(
                                calls.stream().map(Call::end).toArray(CompletableFuture[]::new))
                        .get(CALL_DEADLINE.plus(MARGIN).toSeconds(), TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("the fuzz itself failed", e);
            } finally {
                for (ManagedChannel c : channels) {
                    c.shutdownNow();
                }
            }
        }

        private CallCredentials bearer(String token) {
            return token == null ? null : BearerToken.credentials(() -> token, false);
        }

        /** The fuzzer's own token mostly; none, garbage or an over-long one otherwise. */
        private String someToken(boolean ownAllowed) {
            int r = random.nextInt(100);
            if (ownAllowed && r < 70) {
                return fuzzer.token();
            }
            if (r < 80) {
                return null;
            }
            if (r < 95) {
                return new String(
                                mutator.flipBits(fuzzer.token().getBytes()),
                                StandardCharsets.ISO_8859_1)
                        .replaceAll("[^\\x21-\\x7e]", "x");
            }
            return "x".repeat(BearerToken.MAX_TOKEN_LENGTH + 10);
        }

        private Metadata extraMetadata() {
            if (random.nextInt(100) >= 3) {
                return null;
            }
            Metadata m = new Metadata();
            m.put(
                    Metadata.Key.of("x-fuzz", Metadata.ASCII_STRING_MARSHALLER),
                    "y".repeat(10_000 + random.nextInt(10_000)));
            return m;
        }

        private Call launch(
                ManagedChannel ch,
                MethodDescriptor<?, ?> method,
                List<byte[]> messages,
                String token) {
            boolean halfClose = random.nextInt(100) >= 4; // a few leave the call open
            Metadata extra = extraMetadata();
            return new Call(
                    method.getBareMethodName(),
                    RawProbes.call(
                            ch, method, messages, halfClose, bearer(token), extra, CALL_DEADLINE),
                    extra != null);
        }

        private Credentials creds() {
            return Credentials.newBuilder().setLearnerId(fuzzer.id()).build();
        }

        private Call learnerCase(ManagedChannel ch) {
            int kind = random.nextInt(100);
            if (kind < 8) {
                JoinRequest j =
                        JoinRequest.newBuilder()
                                .setName("fuzz\n" + random.nextInt())
                                .setNumTrainingExamples(random.nextInt(1000) - 10)
                                .setNumTestExamples(10)
                                .build();
                String token = null;
                if (random.nextInt(100) < 30 && validJoins.get() < 20) {
                    token = enrollment;
                    validJoins.incrementAndGet();
                } else if (random.nextBoolean()) {
                    token = someToken(false);
                }
                return launch(
                        ch,
                        LearnerServiceGrpc.getJoinMethod(),
                        List.of(mutator.mutate(j.toByteArray())),
                        token);
            }
            if (kind < 16) {
                // Never with the fuzzer's own token: an opened task stream would make it a
                // participant of the next round.
                StreamTasksRequest r =
                        StreamTasksRequest.newBuilder()
                                .setCredentials(creds().toBuilder().setToken("forged"))
                                .build();
                return launch(
                        ch,
                        LearnerServiceGrpc.getStreamTasksMethod(),
                        List.of(mutator.mutate(r.toByteArray())),
                        random.nextBoolean() ? null : "forged." + random.nextInt());
            }
            if (kind < 60) {
                return uploadCase(ch);
            }
            if (kind < 70) {
                EvaluationReport e =
                        EvaluationReport.newBuilder()
                                .setCredentials(creds())
                                .setTaskId("r1/evaluate")
                                .setRound(1)
                                .setNumExamples(10)
                                .putMetrics("accuracy", 0.5)
                                .build();
                return launch(
                        ch,
                        LearnerServiceGrpc.getSubmitEvaluationMethod(),
                        List.of(mutator.mutate(e.toByteArray())),
                        someToken(true));
            }
            if (kind < 80) {
                GetModelRequest g = GetModelRequest.newBuilder().setCredentials(creds()).build();
                return launch(
                        ch,
                        LearnerServiceGrpc.getGetModelMethod(),
                        List.of(mutator.mutate(g.toByteArray())),
                        someToken(true));
            }
            if (kind < 85) {
                // Never with its own token either: a valid Leave would revoke it.
                LeaveRequest l = LeaveRequest.newBuilder().setCredentials(creds()).build();
                return launch(
                        ch,
                        LearnerServiceGrpc.getLeaveMethod(),
                        List.of(mutator.mutate(l.toByteArray())),
                        someToken(false));
            }
            if (kind < 90) {
                RenewTokenRequest r =
                        RenewTokenRequest.newBuilder().setLearnerId(fuzzer.id()).build();
                return launch(
                        ch,
                        LearnerServiceGrpc.getRenewTokenMethod(),
                        List.of(mutator.mutate(r.toByteArray())),
                        someToken(true));
            }
            if (kind < 95) {
                return launch(
                        ch,
                        HealthGrpc.getCheckMethod(),
                        List.of(
                                mutator.mutate(
                                        HealthCheckRequest.newBuilder()
                                                .setService("")
                                                .build()
                                                .toByteArray())),
                        null);
            }
            if (kind < 98) {
                // Messages of random calls as raw bytes, unary calls with two messages or none.
                MethodDescriptor<?, ?>[] all = {
                    LearnerServiceGrpc.getJoinMethod(),
                    LearnerServiceGrpc.getGetModelMethod(),
                    LearnerServiceGrpc.getSubmitEvaluationMethod(),
                    LearnerServiceGrpc.getRenewTokenMethod()
                };
                List<byte[]> messages = new ArrayList<>();
                int count = random.nextInt(3);
                for (int i = 0; i < count; i++) {
                    messages.add(mutator.randomBytes(random.nextInt(300)));
                }
                return launch(ch, all[random.nextInt(all.length)], messages, someToken(true));
            }
            // A message above gateway.max-message-size (4 MiB); a few only.
            return launch(
                    ch,
                    LearnerServiceGrpc.getSubmitEvaluationMethod(),
                    List.of(new byte[(4 << 20) + 1024]),
                    someToken(true));
        }

        /** An upload of the fuzzer (not a participant): its chunks mutated, reordered, lost. */
        private Call uploadCase(ManagedChannel ch) {
            float[] values = pattern(5, random.nextInt(100));
            long round = random.nextInt(4);
            List<UpdateChunk> valid = fuzzer.chunks(round, SPECS, values, 1000);
            List<byte[]> messages = new ArrayList<>();
            for (UpdateChunk c : valid) {
                messages.add(c.toByteArray());
            }
            switch (random.nextInt(7)) {
                case 0 -> Collections.shuffle(messages, random);
                case 1 -> messages.remove(random.nextInt(messages.size()));
                case 2 -> messages.add(random.nextInt(messages.size()), messages.get(0));
                case 3 -> {
                    int i = random.nextInt(messages.size());
                    messages.set(i, mutator.mutate(messages.get(i)));
                }
                case 4 -> messages = new ArrayList<>(messages.subList(0, 1 + random.nextInt(2)));
                case 5 -> {
                    for (int i = 0; i < messages.size(); i++) {
                        messages.set(i, mutator.mutate(messages.get(i)));
                    }
                }
                default -> {
                    messages.clear();
                    for (int i = random.nextInt(5); i > 0; i--) {
                        messages.add(mutator.randomBytes(random.nextInt(2048)));
                    }
                }
            }
            return launch(
                    ch, LearnerServiceGrpc.getSubmitUpdateMethod(), messages, someToken(true));
        }

        private Call controlCase(ManagedChannel ch) {
            DirectiveHeader header =
                    DirectiveHeader.newBuilder()
                            .setModelVersion(random.nextInt(5) - 1)
                            .addAllTensors(SPECS)
                            .setModelBytes(random.nextBoolean() ? UPDATE_BYTES : 16)
                            .setNumShards(4)
                            .setShardSize(1024)
                            .setFinished(random.nextBoolean())
                            .setFinishReason("fuzz")
                            .build();
            List<byte[]> messages = new ArrayList<>();
            messages.add(DirectiveChunk.newBuilder().setHeader(header).build().toByteArray());
            messages.add(
                    DirectiveChunk.newBuilder()
                            .setData(ByteString.copyFrom(new byte[16]))
                            .build()
                            .toByteArray());
            for (int i = 0; i < messages.size(); i++) {
                if (random.nextInt(100) < 60) {
                    messages.set(i, mutator.mutate(messages.get(i)));
                }
            }
            if (random.nextInt(10) == 0) {
                Collections.reverse(messages);
            }
            int who = random.nextInt(3);
            String token =
                    who == 0 ? null : who == 1 ? fuzzer.token() : "control." + random.nextInt();
            return launch(ch, GatewayControlServiceGrpc.getPublishMethod(), messages, token);
        }

        /** Garbage, half a TLS hello and half HTTP/2 frames on both ports, a few at a time. */
        List<RawProbes.Ended> runRawProbes(int learner, int control) throws Exception {
            byte[] hello = RawProbes.clientHello();
            Random r = new Random(SEED + 1);
            ExecutorService pool = Executors.newFixedThreadPool(32);
            try {
                List<Future<RawProbes.Ended>> ends = new ArrayList<>();
                // Refused at once (not TLS, or not HTTP/2), closed by the handshake timeout
                // (TLS and the HTTP/2 preface not complete), or, once HTTP/2 is up, by the
                // connection idle timeout: a GOAWAY, then the close once gRPC's graceful
                // shutdown PING goes unanswered (10 s in grpc-java).
                Duration refused = MARGIN;
                Duration handshake = HANDSHAKE_TIMEOUT.plus(MARGIN);
                Duration idle = CONNECTION_IDLE.plus(Duration.ofSeconds(10)).plus(MARGIN);
                for (int repeat = 0; repeat < RAW_REPEATS; repeat++) {
                    for (int port : new int[] {learner, control}) {
                        byte[] garbage = new byte[64 + r.nextInt(4096)];
                        r.nextBytes(garbage);
                        byte[] halfHello = java.util.Arrays.copyOf(hello, hello.length / 2);
                        byte[] http1 =
                                "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                        .getBytes(StandardCharsets.US_ASCII);
                        byte[] frameGarbage = new byte[256];
                        r.nextBytes(frameGarbage);
                        ends.add(
                                pool.submit(
                                        () -> RawProbes.plain("garbage", port, garbage, refused)));
                        ends.add(
                                pool.submit(() -> RawProbes.plain("http/1", port, http1, refused)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.plain(
                                                        "half tls hello",
                                                        port,
                                                        halfHello,
                                                        handshake)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.plain(
                                                        "h2 preface in plaintext",
                                                        port,
                                                        RawProbes.HTTP2_PREFACE,
                                                        refused)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.overTls(
                                                        "tls, then nothing",
                                                        port,
                                                        new byte[0],
                                                        handshake)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.overTls(
                                                        "tls, half the h2 preface",
                                                        port,
                                                        java.util.Arrays.copyOf(
                                                                RawProbes.HTTP2_PREFACE, 10),
                                                        handshake)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.overTls(
                                                        "tls, h2 preface and half a HEADERS frame",
                                                        port,
                                                        RawProbes.prefaceAnd(
                                                                RawProbes.headersFrame(100), 20),
                                                        idle)));
                        ends.add(
                                pool.submit(
                                        () ->
                                                RawProbes.overTls(
                                                        "tls, h2 preface and garbage frames",
                                                        port,
                                                        RawProbes.prefaceAnd(
                                                                frameGarbage, frameGarbage.length),
                                                        refused)));
                    }
                }
                List<RawProbes.Ended> done = new ArrayList<>();
                for (Future<RawProbes.Ended> f : ends) {
                    done.add(f.get());
                }
                return done;
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
