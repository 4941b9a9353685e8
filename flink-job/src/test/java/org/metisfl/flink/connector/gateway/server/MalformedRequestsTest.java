package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A request that does not parse gets INVALID_ARGUMENT with a reason, not gRPC's UNKNOWN. */
class MalformedRequestsTest {
    private Server server;
    private ManagedChannel channel;

    private static final MethodDescriptor.Marshaller<byte[]> BYTES =
            new MethodDescriptor.Marshaller<>() {
                @Override
                public InputStream stream(byte[] value) {
                    return new ByteArrayInputStream(value);
                }

                @Override
                public byte[] parse(InputStream stream) {
                    try {
                        return stream.readAllBytes();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            };

    @BeforeEach
    void start() throws IOException {
        String name = InProcessServerBuilder.generateName();
        server =
                InProcessServerBuilder.forName(name)
                        .addService(
                                MalformedRequests.refuse(
                                        new HealthStatusManager().getHealthService().bindService()))
                        .build()
                        .start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private Status check(byte[] request) throws Exception {
        MethodDescriptor<byte[], byte[]> raw =
                HealthGrpc.getCheckMethod().toBuilder(BYTES, BYTES).build();
        CompletableFuture<Status> end = new CompletableFuture<>();
        ClientCall<byte[], byte[]> call =
                channel.newCall(raw, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS));
        call.start(
                new ClientCall.Listener<>() {
                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        end.complete(status);
                    }
                },
                new Metadata());
        call.request(1);
        call.sendMessage(request);
        call.halfClose();
        return end.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aWellFormedRequestIsServedAsBefore() throws Exception {
        assertThat(check(HealthCheckRequest.newBuilder().setService("").build().toByteArray()))
                .isEqualTo(Status.OK);
    }

    @Test
    void aMalformedRequestIsRefusedAsInvalidArgumentNamingTheMethod() throws Exception {
        // Field 1 (service, a string) announcing 100 bytes of which 2 follow.
        Status s = check(new byte[] {0x0a, 100, 'a', 'b'});
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("malformed request message for Check");
    }
}
