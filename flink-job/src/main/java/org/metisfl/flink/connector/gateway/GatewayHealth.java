package org.metisfl.flink.connector.gateway;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Waits for a learner gateway to answer gRPC health checks with SERVING (it is then listening). */
public final class GatewayHealth {

    /** Checked between two health checks; throws to stop waiting (e.g. the job failed). */
    @FunctionalInterface
    public interface StillWaiting {
        void check() throws Exception;
    }

    private GatewayHealth() {}

    public static void awaitServing(String host, int port, Duration timeout, StillWaiting orElse)
            throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        try {
            while (true) {
                try {
                    HealthCheckResponse r =
                            HealthGrpc.newBlockingStub(channel)
                                    .withDeadlineAfter(2, TimeUnit.SECONDS)
                                    .check(HealthCheckRequest.getDefaultInstance());
                    if (r.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
                        return;
                    }
                } catch (StatusRuntimeException e) {
                    // not listening yet
                }
                if (System.nanoTime() > end) {
                    throw new TimeoutException(
                            "learner gateway on "
                                    + host
                                    + ":"
                                    + port
                                    + " not ready within "
                                    + timeout);
                }
                orElse.check();
                Thread.sleep(100);
            }
        } finally {
            channel.shutdownNow();
        }
    }
}
