package org.metisfl.flink.connector.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.util.function.ThrowingRunnable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.connector.gateway.security.ControlCertificate;
import org.metisfl.flink.model.AggregateCarriage;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.PublishResponse;
import org.metisfl.proto.v1.ThresholdDirective;
import org.metisfl.transport.BearerToken;

/**
 * The model sink's asynchronous delivery against scripted gateways on real gRPC (127.0.0.1): the
 * task thread never waits for a gateway, each gateway gets every directive in order despite
 * failures, and a gateway that stays down or refuses fails the job with its reason.
 */
class ModelSinkRetryTest {
    private static final String SECRET = "s";

    /** The scripted gateways' control endpoint: TLS with a certificate the sink pins. */
    private static final ControlCertificate CERT = ControlCertificate.generate(Duration.ofDays(1));

    private static final int VALUES = 3000; // 12,000 bytes: three 4 kb chunks (64 kb messages)
    private static final int MESSAGE_BYTES = 64 * 1024;

    private final List<Server> servers = new ArrayList<>();
    private ModelSinkWriter sink;

    @AfterEach
    void tearDown() throws InterruptedException {
        if (sink != null) {
            sink.close();
        }
        for (Server s : servers) {
            s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** A gateway whose answer to its n-th Publish call (from 1) is scripted; records the rest. */
    private static final class ScriptedGateway
            extends GatewayControlServiceGrpc.GatewayControlServiceImplBase {
        final AtomicInteger calls = new AtomicInteger();
        final List<Long> taken = new CopyOnWriteArrayList<>(); // plan rounds, in order
        final List<float[]> models = new CopyOnWriteArrayList<>();
        final List<DirectiveHeader> headers = new CopyOnWriteArrayList<>();
        final List<List<ByteString>> payloads = new CopyOnWriteArrayList<>();
        final IntFunction<Status> answer; // null: take it
        volatile CountDownLatch hold = new CountDownLatch(0);

        ScriptedGateway(IntFunction<Status> answer) {
            this.answer = answer;
        }

        @Override
        public StreamObserver<DirectiveChunk> publish(StreamObserver<PublishResponse> response) {
            int call = calls.incrementAndGet();
            String credential = BearerToken.current();
            return new StreamObserver<>() {
                private DirectiveHeader header;
                private ByteString bytes = ByteString.EMPTY;
                private final List<ByteString> chunks = new ArrayList<>();

                @Override
                public void onNext(DirectiveChunk c) {
                    if (c.hasHeader()) {
                        header = c.getHeader();
                    } else {
                        bytes = bytes.concat(c.getData());
                        chunks.add(c.getData());
                    }
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                    try {
                        hold.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    Status refusal = answer.apply(call);
                    if (refusal != null) {
                        response.onError(refusal.asRuntimeException());
                        return;
                    }
                    assertThat(credential).as("the control credential").isEqualTo(SECRET);
                    assertThat(bytes.size())
                            .isEqualTo(
                                    header.getModelBytes()
                                            + AggregateCarriage.announcedBytes(header));
                    headers.add(header);
                    payloads.add(chunks);
                    taken.add(header.getPlan().getRound());
                    models.add(
                            ModelCodec.toFloats(
                                    bytes.substring(0, (int) header.getModelBytes())
                                            .asReadOnlyByteBuffer()));
                    response.onNext(PublishResponse.getDefaultInstance());
                    response.onCompleted();
                }
            };
        }
    }

    private int serve(ScriptedGateway g) throws IOException {
        // A pool, not the event loop: a held call must not stop the others.
        Server s =
                NettyServerBuilder.forAddress(
                                new InetSocketAddress("127.0.0.1", 0),
                                TlsServerCredentials.create(
                                        CERT.certificateChain(), CERT.privateKey()))
                        // As a gateway's control endpoint: no message above the chunk limit.
                        .maxInboundMessageSize(MESSAGE_BYTES)
                        .addService(ServerInterceptors.intercept(g, BearerToken.interceptor()))
                        .build()
                        .start();
        servers.add(s);
        return s.getPort();
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort(); // nothing listens here once it is closed
        }
    }

    private static Directive announce(int index, int port) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ANNOUNCE);
        e.gateway = index;
        e.host = "127.0.0.1";
        e.port = port;
        e.secret = SECRET;
        e.controlFingerprint = CERT.fingerprint();
        return Directive.announce(e);
    }

    private static float[] model(float base) {
        float[] v = new float[VALUES];
        for (int i = 0; i < VALUES; i++) {
            v[i] = base + i;
        }
        return v;
    }

    /** What the coordinator emits for round {@code round}: the model, then its PUBLISH. */
    private void publish(long round) throws Exception {
        float[] values = model(round * 10_000);
        sink.write(Directive.modelShard(round, 0, 0, values), null);
        Directive d = new Directive();
        d.kind = Directive.Kind.PUBLISH;
        d.modelVersion = round;
        d.modelValues = VALUES;
        d.tensors = List.of(new TensorSpecInfo("w", new long[] {VALUES}));
        d.numShards = 1;
        d.shardSize = VALUES;
        d.planRound = round + 1;
        d.participants = List.of("a");
        d.quorum = 1;
        d.deadline = 1;
        d.localSteps = new HashMap<>();
        sink.write(d, null);
    }

    private static DeliveryPolicy policy(Duration timeout) {
        return new DeliveryPolicy(
                timeout, timeout, Duration.ofMillis(20), Duration.ofMillis(200), 4);
    }

    /** A mailbox that keeps its mails, as the task's would run them. */
    private static final class KeptMails implements MailboxExecutor {
        final List<ThrowingRunnable<? extends Exception>> mails = new CopyOnWriteArrayList<>();

        @Override
        public void execute(
                MailOptions options,
                ThrowingRunnable<? extends Exception> command,
                String description,
                Object... args) {
            mails.add(command);
        }

        @Override
        public void yield() {}

        @Override
        public boolean tryYield() {
            return false;
        }

        @Override
        public boolean shouldInterrupt() {
            return false;
        }
    }

    @Test
    void theTaskThreadDoesNotWaitForASlowGatewayAndTheOthersGoOn() throws Exception {
        ScriptedGateway slow = new ScriptedGateway(call -> null);
        ScriptedGateway fast = new ScriptedGateway(call -> null);
        slow.hold = new CountDownLatch(1);
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, policy(Duration.ofSeconds(30)), null);
        sink.write(announce(0, serve(slow)), null);
        sink.write(announce(1, serve(fast)), null);

        long start = System.nanoTime();
        for (long round = 0; round < 3; round++) {
            publish(round);
        }
        long took = System.nanoTime() - start;
        // The slow gateway holds its call until released below: any finite time shows the task
        // thread did not wait for it (a generous bound, so a loaded machine does not fail it).
        assertThat(Duration.ofNanos(took)).isLessThan(Duration.ofSeconds(8));

        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (sink.deliveredDirectives() < 3 && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertThat(fast.taken).containsExactly(1L, 2L, 3L);
        assertThat(slow.taken).isEmpty();
        assertThat(sink.pendingDeliveries()).isEqualTo(3); // all for the slow one
        assertThat(sink.deliveredDirectives()).isEqualTo(3);

        slow.hold.countDown();
        sink.awaitDelivered();
        assertThat(slow.taken).containsExactly(1L, 2L, 3L);
        assertThat(sink.pendingDeliveries()).isZero();
        assertThat(sink.deliveredDirectives()).isEqualTo(6);
        assertThat(slow.models.get(2)).containsExactly(model(20_000));
    }

    @Test
    void aThresholdAggregateLargerThanOneMessageReachesTheGatewayInChunksAfterTheModel()
            throws Exception {
        ScriptedGateway g = new ScriptedGateway(call -> null);
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, policy(Duration.ofSeconds(30)), null);
        sink.write(announce(0, serve(g)), null);
        // Three ciphertext shards of 300 KB in all: inline, the header alone would be ~5 times
        // the gateway's message limit.
        List<ByteString> aggregate = new ArrayList<>();
        java.util.Random random = new java.util.Random(11);
        for (int n : new int[] {150_000, 149_999, 7}) {
            byte[] b = new byte[n];
            random.nextBytes(b);
            aggregate.add(ByteString.copyFrom(b));
        }
        float[] values = model(0);
        sink.write(Directive.modelShard(0, 0, 0, values), null);
        Directive d = new Directive();
        d.kind = Directive.Kind.PUBLISH;
        d.modelVersion = 0;
        d.modelValues = VALUES;
        d.tensors = List.of(new TensorSpecInfo("w", new long[] {VALUES}));
        d.numShards = 1;
        d.shardSize = VALUES;
        d.planRound = 1;
        d.participants = List.of("a");
        d.quorum = 1;
        d.deadline = 1;
        d.localSteps = new HashMap<>();
        d.withThreshold(
                ThresholdDirective.newBuilder()
                        .addAllAggregate(aggregate)
                        .addAnsweringLearners("a")
                        .build()
                        .toByteArray());
        sink.write(d, null);
        sink.awaitDelivered();

        assertThat(g.headers).hasSize(1);
        DirectiveHeader header = g.headers.get(0);
        assertThat(header.getThreshold().getAggregateCount()).isZero();
        assertThat(header.getThreshold().getAggregateBytesList())
                .containsExactly(150_000L, 149_999L, 7L);
        AggregateCarriage.Attached back = AggregateCarriage.attach(header, g.payloads.get(0));
        assertThat(back.header().getThreshold().getAggregateList())
                .containsExactlyElementsOf(aggregate);
        assertThat(back.header().getThreshold().getAnsweringLearnersList()).containsExactly("a");
        assertThat(g.models.get(0)).containsExactly(values);
    }

    @Test
    void retriesAFailingGatewayAndDeliversEveryDirectiveOnceInOrder() throws Exception {
        // Calls 1, 2 and 4 fail as a restarting gateway's would; 3, 5 and 6 take their directive.
        ScriptedGateway flaky =
                new ScriptedGateway(
                        call ->
                                call == 1 || call == 2 || call == 4
                                        ? Status.UNAVAILABLE.withDescription("restarting")
                                        : null);
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, policy(Duration.ofSeconds(30)), null);
        sink.write(announce(0, serve(flaky)), null);
        for (long round = 0; round < 3; round++) {
            publish(round);
        }
        sink.awaitDelivered();

        assertThat(flaky.taken).containsExactly(1L, 2L, 3L);
        assertThat(flaky.calls).hasValue(6);
        for (int r = 0; r < 3; r++) {
            assertThat(flaky.models.get(r)).containsExactly(model(r * 10_000));
        }
    }

    @Test
    void aGatewayThatStaysUnreachableFailsTheTaskWithItsAddressWithinTheTimeout() throws Exception {
        KeptMails mailbox = new KeptMails();
        int port = closedPort();
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, policy(Duration.ofMillis(600)), mailbox);
        sink.write(announce(3, port), null);
        long start = System.nanoTime();
        publish(0); // returns at once: the failure comes later

        long end = start + Duration.ofSeconds(20).toNanos();
        while (mailbox.mails.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        Duration failedAfter = Duration.ofNanos(System.nanoTime() - start);
        assertThat(mailbox.mails).hasSize(1);
        // Not before the timeout; after it, within the retries' backoff (200 ms) plus scheduling
        // slack that a loaded 2-core machine needs.
        assertThat(failedAfter).isBetween(Duration.ofMillis(600), Duration.ofMillis(8_000));

        assertThatThrownBy(() -> mailbox.mails.get(0).run())
                .isInstanceOf(IOException.class)
                .hasMessageContaining("gateway 3 at 127.0.0.1:" + port + " stayed unreachable")
                .hasMessageContaining("delivery timeout of 600 ms")
                .hasMessageContaining("UNAVAILABLE");
        // Also without the mailbox: the next write and the next flush rethrow it.
        assertThatThrownBy(() -> publish(1)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> sink.flush(false))
                .hasMessageContaining("gateway 3 at 127.0.0.1:" + port);
    }

    @Test
    void aRefusingGatewayFailsTheTaskAtOnceWithoutRetries() throws Exception {
        ScriptedGateway wrongJob =
                new ScriptedGateway(
                        call ->
                                Status.PERMISSION_DENIED.withDescription(
                                        "not the job's model sink"));
        KeptMails mailbox = new KeptMails();
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, policy(Duration.ofSeconds(30)), mailbox);
        sink.write(announce(0, serve(wrongJob)), null);
        publish(0);

        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (mailbox.mails.isEmpty() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertThatThrownBy(() -> sink.flush(true))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("refused")
                .hasMessageContaining("PERMISSION_DENIED: not the job's model sink");
        Thread.sleep(300);
        assertThat(wrongJob.calls).hasValue(1);
    }

    @Test
    void aFullQueueHoldsTheTaskThreadOnlyUntilTheGatewayCatchesUp() throws Exception {
        ScriptedGateway slow = new ScriptedGateway(call -> null);
        slow.hold = new CountDownLatch(1);
        DeliveryPolicy onePending =
                new DeliveryPolicy(
                        Duration.ofSeconds(30),
                        Duration.ofSeconds(30),
                        Duration.ofMillis(20),
                        Duration.ofMillis(200),
                        1);
        sink = new ModelSinkWriter(MESSAGE_BYTES, false, onePending, null);
        sink.write(announce(0, serve(slow)), null);
        publish(0); // in flight, held by the gateway

        Future<?> second =
                java.util.concurrent.Executors.newSingleThreadExecutor()
                        .submit(
                                () -> {
                                    publish(1);
                                    return null;
                                });
        Thread.sleep(300);
        assertThat(second).isNotDone();
        slow.hold.countDown();
        second.get(10, TimeUnit.SECONDS);
        sink.awaitDelivered();
        assertThat(slow.taken).containsExactly(1L, 2L);
    }

    @Test
    void backoffDoublesUpToItsBound() {
        DeliveryPolicy p =
                new DeliveryPolicy(
                        Duration.ofMinutes(1),
                        Duration.ofSeconds(10),
                        Duration.ofMillis(100),
                        Duration.ofSeconds(1),
                        4);
        assertThat(
                        Arrays.stream(new int[] {1, 2, 3, 4, 5, 100})
                                .mapToLong(n -> p.backoffNanos(n) / 1_000_000)
                                .toArray())
                .containsExactly(100, 200, 400, 800, 1000, 1000);
        assertThatThrownBy(
                        () ->
                                new DeliveryPolicy(
                                        Duration.ofMinutes(1),
                                        Duration.ofSeconds(1),
                                        Duration.ofSeconds(2),
                                        Duration.ofSeconds(1),
                                        4))
                .hasMessageContaining("max backoff");
    }
}
