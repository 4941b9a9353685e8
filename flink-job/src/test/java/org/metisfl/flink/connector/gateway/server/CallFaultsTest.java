package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A call a fault of the gateway ended (a handler that throws, a close with UNKNOWN) is counted; the
 * refusals the gateway means, and answered calls, are not.
 */
class CallFaultsTest {
    private final GatewayMetrics metrics = new GatewayMetrics();
    private Server server;
    private ManagedChannel channel;

    /** What the one method does, chosen by the request's service name. */
    private static void behave(
            HealthCheckRequest request, io.grpc.stub.StreamObserver<HealthCheckResponse> response) {
        switch (request.getService()) {
            case "throw" -> throw new IllegalStateException("a bug");
            case "unknown" -> response.onError(new IllegalArgumentException("not a status"));
            case "refuse" ->
                    response.onError(
                            Status.PERMISSION_DENIED.withDescription("no").asRuntimeException());
            default -> {
                response.onNext(HealthCheckResponse.getDefaultInstance());
                response.onCompleted();
            }
        }
    }

    @BeforeEach
    void start() throws IOException {
        ServerServiceDefinition service =
                ServerServiceDefinition.builder(HealthGrpc.SERVICE_NAME)
                        .addMethod(
                                HealthGrpc.getCheckMethod(),
                                ServerCalls.asyncUnaryCall(CallFaultsTest::behave))
                        .build();
        String name = InProcessServerBuilder.generateName();
        server =
                InProcessServerBuilder.forName(name)
                        .addService(ServerInterceptors.intercept(service, new CallFaults(metrics)))
                        .build()
                        .start();
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private Status call(String behaviour) {
        try {
            HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(5, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.newBuilder().setService(behaviour).build());
            return Status.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
    }

    @Test
    void answeredAndRefusedCallsAreNoFaults() {
        assertThat(call("answer").getCode()).isEqualTo(Status.Code.OK);
        assertThat(call("refuse").getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(metrics.callFaults()).isZero();
    }

    @Test
    void aHandlerThatThrowsIsCountedAndTheClientStillGetsItsStatus() {
        Status s = call("throw");
        assertThat(s.getCode()).isEqualTo(Status.Code.UNKNOWN);
        assertThat(s.getDescription()).isEqualTo("Application error processing RPC");
        assertThat(metrics.callFaults()).isEqualTo(1);
        assertThat(call("throw").getCode()).isEqualTo(Status.Code.UNKNOWN);
        assertThat(metrics.callFaults()).isEqualTo(2);
    }

    @Test
    void aCallClosedWithUnknownIsCounted() {
        assertThat(call("unknown").getCode()).isEqualTo(Status.Code.UNKNOWN);
        assertThat(metrics.callFaults()).isEqualTo(1);
    }
}
