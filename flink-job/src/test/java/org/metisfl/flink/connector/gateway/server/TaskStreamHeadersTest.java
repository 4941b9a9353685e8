package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.Task;

/**
 * A task stream's headers go out once the stream is registered, before any task (a learner moving
 * between gateways waits for them), also when tasks are sent from another thread meanwhile; a
 * stream refused at once is answered with trailers only. Real gRPC on 127.0.0.1.
 */
class TaskStreamHeadersTest {
    private static final int BURST = 200;

    private Server server;
    private ManagedChannel channel;

    /** What the handler did before it returned, in order (the registrations). */
    private final List<String> registered = new CopyOnWriteArrayList<>();

    private final List<ServerCallStreamObserver<Task>> streams = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        LearnerServiceGrpc.LearnerServiceImplBase service =
                new LearnerServiceGrpc.LearnerServiceImplBase() {
                    @Override
                    public void streamTasks(StreamTasksRequest request, StreamObserver<Task> out) {
                        ServerCallStreamObserver<Task> stream =
                                (ServerCallStreamObserver<Task>) out;
                        String mode = request.getCredentials().getLearnerId();
                        switch (mode) {
                            case "refused" ->
                                    stream.onError(
                                            Status.UNAUTHENTICATED
                                                    .withDescription("unknown token")
                                                    .asRuntimeException());
                            case "outstanding" -> {
                                // As TaskDispatch.connect: the open round's task, at once.
                                send(stream, task("r1"));
                                register(mode, stream);
                            }
                            case "burst" -> {
                                register(mode, stream);
                                // A directive's tasks, sent on another thread meanwhile.
                                Thread t =
                                        new Thread(
                                                () -> {
                                                    for (int i = 0; i < BURST; i++) {
                                                        send(stream, task("t" + i));
                                                    }
                                                    synchronized (stream) {
                                                        stream.onCompleted();
                                                    }
                                                });
                                t.start();
                            }
                            default -> register(mode, stream);
                        }
                    }
                };
        server =
                NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                        .addService(ServerInterceptors.intercept(service, new TaskStreamHeaders()))
                        .build()
                        .start();
        channel =
                NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
                        .usePlaintext()
                        .build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void aQuietStreamGetsItsHeadersOnceRegisteredAndItsTasksAfter() throws Exception {
        BlockingQueue<String> events = open("quiet");
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("headers");
        assertThat(registered).containsExactly("quiet");
        assertThat(events.poll(200, TimeUnit.MILLISECONDS)).as("nothing else yet").isNull();

        send(streams.get(0), task("r2"));
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("task r2");
        synchronized (streams.get(0)) {
            streams.get(0).onCompleted();
        }
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("closed OK");
    }

    @Test
    void aStreamWithATaskAtRegistrationGetsItsHeadersOnceThenTheTask() throws Exception {
        BlockingQueue<String> events = open("outstanding");
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("headers");
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("task r1");
        assertThat(events.poll(200, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void tasksSentFromAnotherThreadWhileTheHeadersGoOutAllArriveInOrderAfterThem()
            throws Exception {
        for (int run = 0; run < 20; run++) {
            BlockingQueue<String> events = open("burst");
            List<String> expected = new ArrayList<>();
            expected.add("headers");
            for (int i = 0; i < BURST; i++) {
                expected.add("task t" + i);
            }
            expected.add("closed OK");
            List<String> got = new ArrayList<>();
            while (got.size() < expected.size()) {
                String e = events.poll(5, TimeUnit.SECONDS);
                assertThat(e).as("event %d of run %d", got.size(), run).isNotNull();
                got.add(e);
            }
            assertThat(got).isEqualTo(expected);
        }
    }

    @Test
    void aStreamRefusedAtOnceEndsWithTrailersOnly() throws Exception {
        BlockingQueue<String> events = open("refused");
        assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("closed UNAUTHENTICATED");
        assertThat(registered).isEmpty();
    }

    private void register(String mode, ServerCallStreamObserver<Task> stream) {
        streams.add(stream);
        registered.add(mode);
    }

    private static void send(ServerCallStreamObserver<Task> stream, Task task) {
        synchronized (stream) {
            stream.onNext(task);
        }
    }

    private static Task task(String id) {
        return Task.newBuilder().setTaskId(id).build();
    }

    /** Opens a task stream as {@code learner}; its events as text, in order. */
    private BlockingQueue<String> open(String learner) {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        ClientCall<StreamTasksRequest, Task> call =
                channel.newCall(LearnerServiceGrpc.getStreamTasksMethod(), CallOptions.DEFAULT);
        call.start(
                new ClientCall.Listener<>() {
                    @Override
                    public void onHeaders(Metadata headers) {
                        events.add("headers");
                    }

                    @Override
                    public void onMessage(Task message) {
                        events.add("task " + message.getTaskId());
                        call.request(1);
                    }

                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        events.add("closed " + status.getCode());
                    }
                },
                new Metadata());
        call.sendMessage(
                StreamTasksRequest.newBuilder()
                        .setCredentials(Credentials.newBuilder().setLearnerId(learner))
                        .build());
        call.halfClose();
        call.request(1);
        return events;
    }
}
