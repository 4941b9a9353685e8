package org.metisfl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;

class WireTuningTest {
    private static final int CHUNK = 256 << 10;

    @Test
    void textRoundTripsAndBadSettingsAreRefusedNamingThem() {
        WireTuning w = new WireTuning(16 << 20, 1 << 20, true);
        assertThat(WireTuning.parse(w.text())).isEqualTo(w);
        assertThat(w.text()).isEqualTo("grpc,window=16777216,recv=1048576,epoll");
        assertThat(WireTuning.parse("grpc")).isEqualTo(WireTuning.GRPC_DEFAULTS);
        assertThat(WireTuning.parse("")).isEqualTo(WireTuning.defaults());
        assertThat(WireTuning.parse("default")).isEqualTo(WireTuning.defaults());
        assertThat(WireTuning.parse(WireTuning.defaults().text())).isEqualTo(WireTuning.defaults());
        assertThatThrownBy(() -> WireTuning.parse("windw=5"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("windw=5");
        assertThatThrownBy(() -> new WireTuning(-1, 0, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> new WireTuning(0, 10, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("receiveBufferBytes");
        assertThat(new WireTuning(0, 0, false).transportName()).isEqualTo("nio");
        assertThat(new WireTuning(0, 0, true).transportName())
                .isEqualTo(WireTuning.epollAvailable() ? "epoll" : "nio");
    }

    @Test
    void aServerAndChannelWithTheSettingsCarryAnUploadOnEitherTransport() throws Exception {
        for (WireTuning w :
                List.of(
                        WireTuning.GRPC_DEFAULTS,
                        WireTuning.defaults(),
                        new WireTuning(8 << 20, 1 << 20, false),
                        new WireTuning(8 << 20, 1 << 20, true))) {
            AtomicLong received = new AtomicLong();
            try (Pair p = new Pair(w, received, true)) {
                byte[] data = new byte[(3 << 20) + 5];
                new java.util.Random(3).nextBytes(data);
                CompletableFuture<SubmitUpdateResponse> answer = new CompletableFuture<>();
                StreamObserver<UpdateChunk> out = p.stub().submitUpdate(observer(answer));
                for (int off = 0; off < data.length; off += CHUNK) {
                    int n = Math.min(CHUNK, data.length - off);
                    out.onNext(
                            UpdateChunk.newBuilder()
                                    .setData(ByteString.copyFrom(data, off, n))
                                    .setOffset(off)
                                    .build());
                }
                out.onCompleted();
                answer.get(30, TimeUnit.SECONDS);
                assertThat(received.get()).as(w.text()).isEqualTo(data.length);
            }
        }
    }

    /**
     * The memory bound the gateway relies on while an upload waits for room in its ingest budget: a
     * call that does not ask for messages (manual flow control) makes the server hold at most one
     * stream flow-control window of its bytes. The connection's window does not bound several such
     * calls together: gRPC's server refills it as bytes arrive, not as calls read them, so a
     * connection holds up to one window per waiting call (the gateway's worst case is its uploads
     * waiting for room × the window, which is why the learner port keeps gRPC's window). A client
     * hands over at most the window plus what its own stream queues (one message and gRPC's 32 KiB
     * ready threshold) before it is held back.
     */
    @Test
    void aCallThatDoesNotReadHoldsAtMostOneWindowAndEachCallHasItsOwn() throws Exception {
        // A fixed window, and the defaults: gRPC's automatic window, which starts at 1 MiB and
        // grows with the measured bandwidth-delay product up to 8 MiB.
        Map<WireTuning, Integer> windows =
                Map.of(new WireTuning(4 << 20, 0, false), 4 << 20, WireTuning.defaults(), 8 << 20);
        for (Map.Entry<WireTuning, Integer> e : windows.entrySet()) {
            int window = e.getValue();
            try (Pair p = new Pair(e.getKey(), new AtomicLong(), false)) {
                List<Pusher> pushers = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    pushers.add(new Pusher(p.stub()));
                }
                awaitStalled(pushers);
                for (Pusher one : pushers) {
                    assertThat(one.handedOver())
                            .as("bytes a non-reading call could send, " + e)
                            .isLessThanOrEqualTo(window + CHUNK + (32 << 10) + 64)
                            .isGreaterThanOrEqualTo(Math.min(window, 1 << 20) / 2);
                }
                pushers.forEach(Pusher::cancel);
            }
        }
    }

    /**
     * Waits until every pusher has sent something and their total stopped growing for a second;
     * returns it.
     */
    private static long awaitStalled(List<Pusher> pushers) throws InterruptedException {
        long last = -1;
        long stableSince = System.nanoTime();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            long total = pushers.stream().mapToLong(Pusher::handedOver).sum();
            boolean allStarted = pushers.stream().allMatch(x -> x.handedOver() > 0);
            if (total != last || !allStarted) {
                last = total;
                stableSince = System.nanoTime();
            } else if (System.nanoTime() - stableSince > TimeUnit.SECONDS.toNanos(1)) {
                return total;
            }
            Thread.sleep(20);
        }
        throw new AssertionError(
                "the uploads never all started and stalled: "
                        + pushers.stream().map(x -> Long.toString(x.handedOver())).toList()
                        + " bytes sent");
    }

    private static StreamObserver<SubmitUpdateResponse> observer(
            CompletableFuture<SubmitUpdateResponse> answer) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SubmitUpdateResponse r) {
                answer.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                answer.complete(SubmitUpdateResponse.getDefaultInstance());
            }
        };
    }

    /** Sends 256 KiB chunks whenever its call is ready; counts what it handed to gRPC. */
    private static final class Pusher
            implements ClientResponseObserver<UpdateChunk, SubmitUpdateResponse> {
        private final UpdateChunk chunk =
                UpdateChunk.newBuilder().setData(ByteString.copyFrom(new byte[CHUNK])).build();
        private final AtomicLong handed = new AtomicLong();
        private ClientCallStreamObserver<UpdateChunk> call;

        Pusher(LearnerServiceGrpc.LearnerServiceStub stub) {
            stub.submitUpdate(this);
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdateChunk> call) {
            this.call = call;
            call.setOnReadyHandler(this::pump);
        }

        private synchronized void pump() {
            while (call.isReady()) {
                call.onNext(chunk);
                handed.addAndGet(chunk.getSerializedSize());
            }
        }

        long handedOver() {
            return handed.get();
        }

        void cancel() {
            call.cancel("done", null);
        }

        @Override
        public void onNext(SubmitUpdateResponse value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
    }

    /**
     * A server on 127.0.0.1 whose SubmitUpdate counts the data bytes it reads ({@code reads}) or
     * never asks for a message, and one channel to it, both with the settings.
     */
    private static final class Pair implements AutoCloseable {
        final EventLoopGroup boss;
        final EventLoopGroup workers;
        final EventLoopGroup client;
        final Server server;
        final ManagedChannel channel;

        Pair(WireTuning w, AtomicLong received, boolean reads) throws Exception {
            boss = w.newEventLoopGroup(1, r -> daemon(r));
            workers = w.newEventLoopGroup(1, r -> daemon(r));
            client = w.newEventLoopGroup(1, r -> daemon(r));
            LearnerServiceGrpc.LearnerServiceImplBase service =
                    new LearnerServiceGrpc.LearnerServiceImplBase() {
                        @Override
                        public StreamObserver<UpdateChunk> submitUpdate(
                                StreamObserver<SubmitUpdateResponse> response) {
                            ServerCallStreamObserver<SubmitUpdateResponse> r =
                                    (ServerCallStreamObserver<SubmitUpdateResponse>) response;
                            if (!reads) {
                                r.disableAutoRequest();
                            }
                            return new StreamObserver<>() {
                                @Override
                                public void onNext(UpdateChunk c) {
                                    received.addAndGet(c.getData().size());
                                }

                                @Override
                                public void onError(Throwable t) {}

                                @Override
                                public void onCompleted() {
                                    response.onNext(SubmitUpdateResponse.getDefaultInstance());
                                    response.onCompleted();
                                }
                            };
                        }
                    };
            server =
                    w.applyTo(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)))
                            .bossEventLoopGroup(boss)
                            .workerEventLoopGroup(workers)
                            .directExecutor()
                            .maxInboundMessageSize(4 << 20)
                            .addService(service)
                            .build()
                            .start();
            channel =
                    w.applyTo(
                                    NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
                                            .eventLoopGroup(client)
                                            .usePlaintext(),
                                    true)
                            .build();
        }

        LearnerServiceGrpc.LearnerServiceStub stub() {
            return LearnerServiceGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        }

        private static Thread daemon(Runnable r) {
            Thread t = new Thread(r, "wire-test");
            t.setDaemon(true);
            return t;
        }

        @Override
        public void close() throws InterruptedException {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            for (EventLoopGroup g : List.of(client, workers, boss)) {
                g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            }
        }
    }
}
