package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * SubmitUpdate through a real (in-process) gRPC server: the byte budget pauses and resumes uploads
 * with gRPC's manual flow control, and a learner that goes away while paused frees its place.
 */
class SubmitUpdateFlowControlTest {
    private static final int VALUES = 1000; // 4000 bytes: two do not fit in the budget

    private final TokenAuthority tokens = new TokenAuthority(TokenAuthority.newSecret());
    private final StampedEventQueue queue =
            new StampedEventQueue(System::currentTimeMillis, new IngestBudget(6000, 1));
    private final GatewayState state =
            new GatewayState(GatewayOptions.from(FederationConfig.of(Map.of())), 0, tokens, queue);
    private Server server;
    private ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        String name = InProcessServerBuilder.generateName();
        server =
                InProcessServerBuilder.forName(name)
                        .addService(
                                new LearnerServiceImpl(
                                        state,
                                        new Admission(
                                                GatewaySecurity.insecureForDevelopment(),
                                                Map.of())))
                        .build()
                        .start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    /** An initial-model upload in progress: the header and half the bytes sent. */
    private final class Upload {
        final CompletableFuture<SubmitUpdateResponse> answer = new CompletableFuture<>();
        final StreamObserver<UpdateChunk> out;
        final ByteString bytes = ByteString.copyFrom(new byte[VALUES * 4]);

        Upload() {
            out =
                    LearnerServiceGrpc.newStub(channel)
                            .submitUpdate(
                                    new StreamObserver<>() {
                                        @Override
                                        public void onNext(SubmitUpdateResponse r) {
                                            answer.complete(r);
                                        }

                                        @Override
                                        public void onError(Throwable t) {
                                            answer.completeExceptionally(t);
                                        }

                                        @Override
                                        public void onCompleted() {}
                                    });
            String id = tokens.newLearnerId();
            out.onNext(
                    UpdateChunk.newBuilder()
                            .setHeader(
                                    UpdateHeader.newBuilder()
                                            .setCredentials(
                                                    Credentials.newBuilder()
                                                            .setLearnerId(id)
                                                            .setToken(tokens.tokenFor(id)))
                                            .setCrc32C(crc32c(bytes))
                                            .addTensors(
                                                    TensorSpec.newBuilder()
                                                            .setName("w")
                                                            .setDtype(DType.FLOAT32)
                                                            .addShape(VALUES)))
                            .build());
            out.onNext(chunk(0, bytes.size() / 2 + 1));
        }

        UpdateChunk chunk(int from, int to) {
            return UpdateChunk.newBuilder()
                    .setData(bytes.substring(from, to))
                    .setOffset(from)
                    .build();
        }

        void finish() {
            out.onNext(chunk(bytes.size() / 2 + 1, bytes.size()));
            out.onCompleted();
        }
    }

    private static int crc32c(ByteString bytes) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes.toByteArray());
        return (int) crc.getValue();
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 10 s").isLessThan(until);
            Thread.sleep(5);
        }
    }

    @Test
    void pausedUploadResumesOnceTheReaderEmitsTheOneBeforeIt() throws Exception {
        Upload first = new Upload();
        await(() -> queue.budget().reservedBytes() == 4000);
        Upload second = new Upload();
        await(() -> queue.budget().waiting() == 1);
        second.finish(); // sent, but not read: it waits for room

        first.finish();
        await(() -> !queue.isEmpty());
        queue.poll().onDurable().run(); // the reader emits it; the job made it durable
        assertThat(first.answer.get(10, TimeUnit.SECONDS).getStatus())
                .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);

        // The second upload was read to its end once it had room: only then is it refused, since
        // the first one became the initial model.
        assertThat(second.answer)
                .failsWithin(10, TimeUnit.SECONDS)
                .withThrowableOfType(Exception.class)
                .havingRootCause()
                .isInstanceOf(StatusRuntimeException.class)
                .withMessageContaining("already has an initial model");
        await(() -> queue.budget().reservedBytes() == 0);
    }

    @Test
    void learnerLeavingWhilePausedOrReceivingFreesItsRoom() throws Exception {
        Upload first = new Upload();
        await(() -> queue.budget().reservedBytes() == 4000);
        Upload second = new Upload();
        Upload third = new Upload();
        await(() -> queue.budget().waiting() == 2);

        second.out.onError(new RuntimeException("learner stopped")); // cancels its call
        await(() -> queue.budget().waiting() == 1);
        first.out.onError(new RuntimeException("learner stopped"));
        await(() -> queue.budget().waiting() == 0 && queue.budget().reservedBytes() == 4000);

        third.finish();
        await(() -> !queue.isEmpty());
        queue.poll().onDurable().run();
        assertThat(third.answer.get(10, TimeUnit.SECONDS).getStatus())
                .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
        assertThat(queue.budget().reservedBytes()).isZero();
    }
}
