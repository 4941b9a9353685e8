package org.metisfl.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;

class ZeroCopyRequestsTest {

    @Test
    void aRealServerReceivesEveryChunkAsSentAndViewsTheDataOfLargeOnes() throws Exception {
        List<UpdateChunk> received = new ArrayList<>();
        AtomicInteger leased = new AtomicInteger();
        LearnerServiceGrpc.LearnerServiceImplBase plain =
                new LearnerServiceGrpc.LearnerServiceImplBase() {};
        Server server =
                NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                        .maxInboundMessageSize(4 << 20)
                        .addService(
                                ZeroCopyRequests.bind(
                                        plain.bindService(),
                                        LearnerServiceGrpc.getSubmitUpdateMethod(),
                                        UpdateChunk.DATA_FIELD_NUMBER,
                                        response -> recorder(response, received, leased)))
                        .build()
                        .start();
        ManagedChannel channel =
                NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
                        .usePlaintext()
                        .build();
        try {
            Random random = new Random(7);
            List<UpdateChunk> sent = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                sent.add(UpdateChunk.parseFrom(ZeroCopyMarshallerTest.randomChunk(random)));
            }
            byte[] big = new byte[(1 << 20) + 3];
            random.nextBytes(big);
            sent.add(UpdateChunk.newBuilder().setData(ByteString.copyFrom(big)).build());
            CompletableFuture<SubmitUpdateResponse> answer = new CompletableFuture<>();
            StreamObserver<UpdateChunk> out =
                    LearnerServiceGrpc.newStub(channel)
                            .withDeadlineAfter(30, TimeUnit.SECONDS)
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
            for (UpdateChunk c : sent) {
                out.onNext(c);
            }
            out.onCompleted();
            assertThat(answer.get(30, TimeUnit.SECONDS).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
            assertThat(received).isEqualTo(sent);
            assertThat(leased.get()).as("chunks whose data was not copied").isGreaterThan(100);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static StreamObserver<LeasedMessage<UpdateChunk>> recorder(
            StreamObserver<SubmitUpdateResponse> response,
            List<UpdateChunk> received,
            AtomicInteger leased) {
        return new StreamObserver<LeasedMessage<UpdateChunk>>() {
            @Override
            public void onNext(LeasedMessage<UpdateChunk> c) {
                if (c.viewsTransportBuffers()) {
                    leased.incrementAndGet();
                }
                received.add(c.materialize());
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
                response.onNext(
                        SubmitUpdateResponse.newBuilder()
                                .setStatus(SubmitUpdateResponse.Status.ACCEPTED)
                                .build());
                response.onCompleted();
            }
        };
    }
}
