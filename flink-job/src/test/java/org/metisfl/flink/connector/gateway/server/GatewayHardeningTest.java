package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.transport.DevSecurity;

/**
 * A real gateway server with TLS on 127.0.0.1 against hostile connections: what reaches the log.
 */
class GatewayHardeningTest {
    @TempDir Path dir;

    private GatewayServer server;
    private GatewayState state;
    private DevSecurity dev;
    private final List<LogEvent> lines = new CopyOnWriteArrayList<>();
    private Capture capture;

    /** Collects what gRPC's loggers send to Log4j at INFO and above (what an operator sees). */
    private static final class Capture extends AbstractAppender {
        private final List<LogEvent> into;

        Capture(List<LogEvent> into) {
            super("grpc-capture", null, null, true, Property.EMPTY_ARRAY);
            this.into = into;
        }

        @Override
        public void append(LogEvent event) {
            if (event.getLevel().isMoreSpecificThan(Level.INFO)) {
                into.add(event.toImmutable());
            }
        }
    }

    @BeforeEach
    void start() throws Exception {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        Configuration c = ctx.getConfiguration();
        capture = new Capture(lines);
        capture.start();
        LoggerConfig grpc = new LoggerConfig("io.grpc", Level.INFO, false);
        grpc.addAppender(capture, Level.INFO, null);
        c.addLogger("io.grpc", grpc);
        ctx.updateLoggers();

        startGateway(Map.of());
    }

    /** (Re)starts the gateway with TLS (development certificates) and these settings. */
    private void startGateway(Map<String, String> extra) throws Exception {
        if (server != null) {
            server.close();
        }
        dev = DevSecurity.ensure(dir.resolve("certs"));
        Map<String, String> settings = new java.util.HashMap<>(dev.jobSettings());
        settings.putAll(extra);
        FederationConfig config = FederationConfig.of(settings);
        GatewaySecurity security = GatewaySecurity.from(config);
        state =
                new GatewayState(
                        GatewayOptions.from(config),
                        0,
                        new TokenAuthority(TokenAuthority.newSecret()),
                        new StampedEventQueue(System::currentTimeMillis));
        server =
                new GatewayServer(
                        state, "127.0.0.1", 0, security, new Admission(security, Map.of()));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        ctx.getConfiguration().removeLogger("io.grpc");
        ctx.updateLoggers();
        capture.stop();
    }

    private void sendGarbage(Random random, int bytes) throws Exception {
        byte[] garbage = new byte[bytes];
        random.nextBytes(garbage);
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(garbage);
            out.flush();
            s.setSoTimeout(2000);
            try {
                while (s.getInputStream().read() >= 0) {
                    // drain until the gateway closes the connection
                }
            } catch (java.io.IOException closedOrTimedOut) {
                // either way the gateway has seen the garbage
            }
        }
    }

    @Test
    void garbageConnectionLogsAtMostOneLineAndAFloodOfThemNoMore() throws Exception {
        assertThat(GrpcLogBridge.isInstalled()).isTrue();
        Random random = new Random(11);
        sendGarbage(random, 1024);
        Thread.sleep(500);
        assertThat(lines).as("one garbage connection").hasSizeLessThanOrEqualTo(1);
        for (int i = 0; i < 30; i++) {
            sendGarbage(random, 64 + random.nextInt(4096));
        }
        Thread.sleep(500);
        // 31 connections within one 10 s window: still at most one line per logger.
        assertThat(lines.stream().map(e -> e.getLoggerName()).distinct().count())
                .isEqualTo(lines.size());
        assertThat(lines).hasSizeLessThanOrEqualTo(2);
        for (LogEvent e : lines) {
            assertThat(e.getThrown()).as("no stack trace at INFO").isNull();
            assertThat(e.getMessage().getFormattedMessage()).doesNotContain("\n");
        }
    }

    @Test
    void transportFailuresReportedThroughJulBecomeOneRateLimitedLineWithoutStackTrace() {
        // What grpc-netty reports for a broken connection ("Transport failed" with its cause),
        // as a flood of 50 connections would produce it.
        java.util.logging.Logger transport =
                java.util.logging.Logger.getLogger(
                        "io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport");
        long before = GrpcLogBridge.received();
        for (int i = 0; i < 50; i++) {
            transport.log(
                    java.util.logging.Level.INFO,
                    "Transport failed",
                    new IllegalStateException(
                            "garbage " + i, new javax.net.ssl.SSLHandshakeException("bad record")));
        }
        assertThat(GrpcLogBridge.received() - before).isEqualTo(50);
        assertThat(lines).hasSize(1);
        LogEvent line = lines.get(0);
        assertThat(line.getLoggerName())
                .isEqualTo("io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport");
        assertThat(line.getThrown()).isNull();
        assertThat(line.getMessage().getFormattedMessage())
                .isEqualTo(
                        "Transport failed: java.lang.IllegalStateException: garbage 0 (caused by"
                                + " javax.net.ssl.SSLHandshakeException: bad record)");
    }

    @Test
    void silentUploadsPastTheLimitAreRefusedAndTheOthersTimeOutWhileTheGatewayKeepsServing()
            throws Exception {
        startGateway(
                Map.of(
                        "gateway.limits.uploads-in-flight", "200",
                        "gateway.limits.upload-idle-timeout", "2 s"));
        io.grpc.ManagedChannel channel =
                io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress(
                                "127.0.0.1",
                                server.port(),
                                org.metisfl.transport.TransportSecurity.builder()
                                        .trustRoots(dev.trustRoots())
                                        .build()
                                        .channelCredentials())
                        .build();
        try {
            // One connection, 250 uploads that never send their header: a header-only attack
            // without even a header.
            List<java.util.concurrent.CompletableFuture<io.grpc.Status>> ends =
                    new java.util.ArrayList<>();
            for (int i = 0; i < 250; i++) {
                java.util.concurrent.CompletableFuture<io.grpc.Status> end =
                        new java.util.concurrent.CompletableFuture<>();
                ends.add(end);
                org.metisfl.proto.v1.LearnerServiceGrpc.newStub(channel)
                        .submitUpdate(
                                new io.grpc.stub.StreamObserver<>() {
                                    @Override
                                    public void onNext(
                                            org.metisfl.proto.v1.SubmitUpdateResponse r) {}

                                    @Override
                                    public void onError(Throwable t) {
                                        end.complete(io.grpc.Status.fromThrowable(t));
                                    }

                                    @Override
                                    public void onCompleted() {
                                        end.complete(io.grpc.Status.OK);
                                    }
                                });
            }
            // The gateway keeps answering others meanwhile (gRPC health on the same port).
            io.grpc.health.v1.HealthCheckResponse health =
                    io.grpc.health.v1.HealthGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS)
                            .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
            assertThat(health.getStatus())
                    .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
            java.util.concurrent.CompletableFuture.allOf(
                            ends.toArray(new java.util.concurrent.CompletableFuture[0]))
                    .get(20, java.util.concurrent.TimeUnit.SECONDS);
            Map<io.grpc.Status.Code, Long> codes =
                    ends.stream()
                            .map(f -> f.join().getCode())
                            .collect(
                                    java.util.stream.Collectors.groupingBy(
                                            c -> c, java.util.stream.Collectors.counting()));
            assertThat(codes)
                    .containsEntry(io.grpc.Status.Code.RESOURCE_EXHAUSTED, 50L)
                    .containsEntry(io.grpc.Status.Code.DEADLINE_EXCEEDED, 200L);
            assertThat(
                            ends.stream()
                                    .map(f -> f.join())
                                    .filter(
                                            st ->
                                                    st.getCode()
                                                            == io.grpc.Status.Code
                                                                    .DEADLINE_EXCEEDED)
                                    .allMatch(
                                            st ->
                                                    st.getDescription()
                                                            .contains(
                                                                    "gateway.limits.upload-idle-timeout")))
                    .isTrue();
            assertThat(state.uploads().inFlight()).isZero();
        } finally {
            channel.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void bridgeIsRemovedWhenTheLastGatewayCloses() {
        assertThat(GrpcLogBridge.isInstalled()).isTrue();
        server.close();
        server = null;
        assertThat(GrpcLogBridge.isInstalled()).isFalse();
        assertThat(java.util.logging.Logger.getLogger("io.grpc").getHandlers())
                .noneMatch(h -> h instanceof GrpcLogBridge);
    }

    @Test
    void oneLineSummarisesTheCauseAndEscapesControlCharacters() {
        String line =
                GrpcLogBridge.oneLine(
                        "Transport failed\nforged",
                        new IllegalStateException("outer", new java.io.IOException("root\r")),
                        3);
        assertThat(line)
                .isEqualTo(
                        "Transport failed\\nforged: java.lang.IllegalStateException: outer"
                                + " (caused by java.io.IOException: root\\r)"
                                + " [3 similar lines in the last 10 s not shown]");
    }
}
