package org.metisfl.flink.connector.gateway.server;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gRPC server of one gateway: the learner service, the control service for the model sink, and
 * gRPC health. It owns its event loops and executor and releases them in {@link #close()}, so
 * nothing of it outlives the Flink task (whose class loader closes right after).
 */
public final class GatewayServer implements AutoCloseable {
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private final HealthStatusManager health = new HealthStatusManager();
    private final GatewayState state;
    private final String secret;
    private final GatewayControlServiceImpl control;

    public GatewayServer(GatewayState state, String host, int port, String secret)
            throws IOException {
        this.state = state;
        this.secret = secret;
        this.control = new GatewayControlServiceImpl(state, secret);
        AtomicInteger n = new AtomicInteger();
        String prefix = "metisfl-gateway-" + state.gatewayIndex() + "-";
        boss =
                new NioEventLoopGroup(
                        1, (java.util.concurrent.ThreadFactory) r -> daemon(r, prefix + "boss"));
        workers =
                new NioEventLoopGroup(
                        2,
                        (java.util.concurrent.ThreadFactory)
                                r -> daemon(r, prefix + "io-" + n.incrementAndGet()));
        executor =
                Executors.newFixedThreadPool(
                        4, r -> daemon(r, prefix + "call-" + n.incrementAndGet()));
        server =
                NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
                        .bossEventLoopGroup(boss)
                        .workerEventLoopGroup(workers)
                        .channelType(NioServerSocketChannel.class)
                        .executor(executor)
                        .maxInboundMessageSize(state.config().maxMessageBytes())
                        .permitKeepAliveTime(10, TimeUnit.SECONDS)
                        .permitKeepAliveWithoutCalls(true)
                        .addService(new LearnerServiceImpl(state))
                        .addService(control)
                        .addService(health.getHealthService())
                        .build()
                        .start();
        health.setStatus("", ServingStatus.SERVING);
        LocalGateways.register(server.getPort(), secret, control);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    public int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        LocalGateways.unregister(server.getPort(), secret, control);
        health.enterTerminalState();
        state.closeAll();
        server.shutdown();
        try {
            if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
