package org.metisfl.flink.connector.gateway;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.transport.TransportSecurity;

/** Waits for a learner gateway to answer gRPC health checks with SERVING (it is then listening). */
public final class GatewayHealth {

    /** Checked between two health checks; throws to stop waiting (e.g. the job failed). */
    @FunctionalInterface
    public interface StillWaiting {
        void check() throws Exception;
    }

    private GatewayHealth() {}

    /** Waits for a plaintext gateway. */
    public static void awaitServing(String host, int port, Duration timeout, StillWaiting orElse)
            throws Exception {
        awaitServing(host, port, InsecureChannelCredentials.create(), timeout, orElse);
    }

    /**
     * How to reach a gateway with these settings for a health check: plaintext, or TLS trusting the
     * gateway's own certificate; null under mutual TLS (a health check has no client certificate:
     * the port is then probed with a TCP connection).
     */
    public static ChannelCredentials credentialsFor(GatewaySecurity security) {
        TransportSecurity port = security.learnerPort();
        if (port.isInsecure()) {
            return InsecureChannelCredentials.create();
        }
        if (port.mode() == TransportSecurity.Mode.MUTUAL_TLS) {
            return null;
        }
        try {
            return TlsChannelCredentials.newBuilder()
                    .trustManager(port.certificateChainFile().orElseThrow().toFile())
                    .build();
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot read the gateway certificate", e);
        }
    }

    /** Waits for a gateway reached with {@code credentials} (null: a TCP probe). */
    public static void awaitServing(
            String host,
            int port,
            ChannelCredentials credentials,
            Duration timeout,
            StillWaiting orElse)
            throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        if (credentials == null) {
            awaitListening(host, port, end, timeout, orElse);
            return;
        }
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port, credentials).build();
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

    private static void awaitListening(
            String host, int port, long end, Duration timeout, StillWaiting orElse)
            throws Exception {
        while (true) {
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(host, port), 2000);
                return;
            } catch (java.io.IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > end) {
                throw new TimeoutException(
                        "learner gateway on " + host + ":" + port + " not ready within " + timeout);
            }
            orElse.check();
            Thread.sleep(100);
        }
    }
}
