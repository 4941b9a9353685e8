package org.metisfl.flink.connector.gateway.server;

import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.metisfl.flink.config.GatewayLimits;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.ControlCertificate;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.OperatorTokens;
import org.metisfl.transport.PeerIdentity;
import org.metisfl.transport.WireTuning;
import org.metisfl.transport.ZeroCopyRequests;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC servers of one gateway: the learner port (the learner service and gRPC health, with the
 * federation's TLS settings), and a control endpoint apart from it for the model sink (its own
 * port, TLS with a certificate made when the gateway starts and pinned by the sink, and the job's
 * control credential), which also serves the operator's commands (their own credential, {@link
 * GatewayOperatorServiceImpl}). It owns its event loops and executor and releases them in {@link
 * #close()}, so nothing of it outlives the Flink task (whose class loader closes right after).
 */
public final class GatewayServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayServer.class);

    private final Server server;
    private final Server controlServer;
    private final ControlCertificate controlCertificate;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private final ScheduledExecutorService timer;
    private final HealthStatusManager health = new HealthStatusManager();
    private final GatewayState state;
    private final String controlToken;
    private final GatewayControlServiceImpl control;

    public GatewayServer(
            GatewayState state,
            String host,
            int port,
            GatewaySecurity security,
            Admission admission)
            throws IOException {
        this.state = state;
        this.controlToken = state.tokens().controlToken();
        this.control = new GatewayControlServiceImpl(state, controlToken);
        this.controlCertificate = ControlCertificate.generate(Duration.ofDays(365));
        OperatorTokens operators = operatorTokens(security);
        ServerCredentials learnerCredentials = security.learnerPort().serverCredentials();
        if (security.learnerPort().isInsecure()) {
            LOG.warn(
                    "Learner gateway {} serves PLAINTEXT (security.insecure: true): models and"
                            + " credentials can be read and forged on the network; for local"
                            + " development only",
                    state.gatewayIndex());
        }
        AtomicInteger n = new AtomicInteger();
        String prefix = "metisfl-gateway-" + state.gatewayIndex() + "-";
        // The transport of the model-carrying connections (channel type, HTTP/2 windows, socket
        // reads), the same the learners and the benchmark's raw-gRPC bound use.
        WireTuning wire = WireTuning.defaults();
        boss = wire.newEventLoopGroup(1, r -> daemon(r, prefix + "boss"));
        workers = wire.newEventLoopGroup(2, r -> daemon(r, prefix + "io-" + n.incrementAndGet()));
        executor =
                Executors.newFixedThreadPool(
                        4, r -> daemon(r, prefix + "call-" + n.incrementAndGet()));
        GatewayLimits limits = state.config().limits();
        ScheduledThreadPoolExecutor timerPool =
                new ScheduledThreadPoolExecutor(1, r -> daemon(r, prefix + "timer"));
        // Every call's request timeout is cancelled when its request arrives: drop it from the
        // queue then, not only when it would have fired.
        timerPool.setRemoveOnCancelPolicy(true);
        timer = timerPool;
        RequestTimeout requestTimeout = new RequestTimeout(timer, limits.uploadIdleTimeout());
        // Outermost on every service: counts and logs the calls a fault of the gateway ended.
        CallFaults faults = new CallFaults(state.metrics());
        ServerInterceptor[] identity = {
            requestTimeout,
            BearerToken.interceptor(),
            new PeerIdentity(),
            new ClientAddress(),
            faults
        };
        server =
                wire.applyTo(
                                NettyServerBuilder.forAddress(
                                        new InetSocketAddress(host, port), learnerCredentials))
                        .bossEventLoopGroup(boss)
                        .workerEventLoopGroup(workers)
                        .executor(executor)
                        .maxInboundMessageSize(state.config().maxMessageBytes())
                        .maxInboundMetadataSize(limits.maxMetadataBytes())
                        .maxConcurrentCallsPerConnection(limits.maxCallsPerConnection())
                        .handshakeTimeout(
                                limits.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .maxConnectionIdle(
                                limits.connectionIdleTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .permitKeepAliveTime(10, TimeUnit.SECONDS)
                        .permitKeepAliveWithoutCalls(true)
                        .addService(
                                ServerInterceptors.intercept(
                                        MalformedRequests.refuse(learnerService(state, admission)),
                                        identity))
                        .addService(
                                ServerInterceptors.intercept(
                                        MalformedRequests.refuse(
                                                health.getHealthService().bindService()),
                                        requestTimeout,
                                        faults))
                        .build()
                        .start();
        ServerCredentials controlCredentials =
                TlsServerCredentials.newBuilder()
                        .keyManager(
                                controlCertificate.certificateChain(),
                                controlCertificate.privateKey())
                        .build();
        controlServer =
                NettyServerBuilder.forAddress(new InetSocketAddress(host, 0), controlCredentials)
                        .bossEventLoopGroup(boss)
                        .workerEventLoopGroup(workers)
                        .channelType(wire.serverChannelType())
                        .executor(executor)
                        .maxInboundMessageSize(state.config().maxMessageBytes())
                        // The learner port's connection limits here too: without them a client
                        // that completes TLS and then sends half a frame, or nothing, held a
                        // connection of the control endpoint for ever.
                        .maxInboundMetadataSize(limits.maxMetadataBytes())
                        .maxConcurrentCallsPerConnection(limits.maxCallsPerConnection())
                        .handshakeTimeout(
                                limits.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .maxConnectionIdle(
                                limits.connectionIdleTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .addService(
                                ServerInterceptors.intercept(
                                        MalformedRequests.refuse(control.bindService()),
                                        requestTimeout,
                                        BearerToken.interceptor(),
                                        faults))
                        .addService(
                                ServerInterceptors.intercept(
                                        MalformedRequests.refuse(
                                                new GatewayOperatorServiceImpl(state, operators)
                                                        .bindService()),
                                        requestTimeout,
                                        BearerToken.interceptor(),
                                        faults))
                        .build()
                        .start();
        timer.scheduleWithFixedDelay(this::checkUploads, 1, 1, TimeUnit.SECONDS);
        // Once every part started: a constructor that fails leaves no handler behind.
        GrpcLogBridge.install();
        health.setStatus("", ServingStatus.SERVING);
        LocalGateways.register(controlServer.getPort(), controlToken, control);
    }

    /** The operator's credentials under the job's operator key, or null if it has none. */
    private static OperatorTokens operatorTokens(GatewaySecurity security) {
        return security.operatorKey() == null
                ? null
                : OperatorTokens.fromKeyFile(java.nio.file.Path.of(security.operatorKey()));
    }

    /**
     * The learner service, its uploads parsed without copying their data: an upload chunk's bytes
     * reach {@link UpdateReceiver} as views of gRPC's receive buffers, decoded from there straight
     * into the update's shard arrays.
     */
    static ServerServiceDefinition learnerService(GatewayState state, Admission admission) {
        return ServerInterceptors.intercept(
                ZeroCopyRequests.bind(
                        new LearnerServiceImpl(state, admission).bindService(),
                        LearnerServiceGrpc.getSubmitUpdateMethod(),
                        UpdateChunk.DATA_FIELD_NUMBER,
                        response ->
                                UpdateReceiver.start(
                                        state,
                                        (ServerCallStreamObserver<SubmitUpdateResponse>) response)),
                // Innermost: a task stream's headers say it is registered (a moving learner
                // closes its old stream once they arrive).
                new TaskStreamHeaders());
    }

    private void checkUploads() {
        try {
            state.checkUploadTimeouts();
        } catch (RuntimeException e) {
            LOG.warn("Checking the uploads' timeouts failed", e);
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The learner port. */
    public int port() {
        return server.getPort();
    }

    /** The control endpoint's port (the model sink's). */
    public int controlPort() {
        return controlServer.getPort();
    }

    /** SHA-256 fingerprint of the control endpoint's certificate, for the sink to pin. */
    public String controlFingerprint() {
        return controlCertificate.fingerprint();
    }

    /** The credential the model sink presents at the control endpoint. */
    public String controlToken() {
        return controlToken;
    }

    @Override
    public void close() {
        LocalGateways.unregister(controlServer.getPort(), controlToken, control);
        health.enterTerminalState();
        state.closeAll();
        for (Server s : new Server[] {server, controlServer}) {
            s.shutdown();
        }
        try {
            for (Server s : new Server[] {server, controlServer}) {
                if (!s.awaitTermination(2, TimeUnit.SECONDS)) {
                    s.shutdownNow();
                    s.awaitTermination(2, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            controlServer.shutdownNow();
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
        executor.shutdownNow();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        GrpcLogBridge.uninstall();
    }
}
