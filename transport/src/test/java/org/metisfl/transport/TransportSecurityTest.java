package org.metisfl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real gRPC over 127.0.0.1 with real certificates from {@link DevCertificates}. */
class TransportSecurityTest {
    @TempDir static Path dir;
    static DevCertificates pki;
    static DevCertificates otherPki;

    private Server server;
    private ManagedChannel channel;
    private final AtomicReference<String> seenIdentity = new AtomicReference<>();
    private final AtomicReference<String> seenToken = new AtomicReference<>();

    @BeforeAll
    static void createCertificates() {
        pki = DevCertificates.in(dir.resolve("pki"));
        pki.createAuthority(List.of("gateway.example"), Duration.ofDays(1));
        pki.issueLearner("alice", Duration.ofDays(1));
        otherPki = DevCertificates.in(dir.resolve("other"));
        otherPki.createAuthority(List.of(), Duration.ofDays(1));
        otherPki.issueLearner("mallory", Duration.ofDays(1));
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void tlsClientTrustingTheCaReachesTheServer() throws Exception {
        start(serverTls(TransportSecurity.Mode.TLS));
        assertThat(check(clientTls(null))).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        assertThat(seenIdentity.get()).isNull();
    }

    @Test
    void plaintextClientIsRefusedByTlsServer() throws Exception {
        start(serverTls(TransportSecurity.Mode.TLS));
        assertThatThrownBy(() -> check(TransportSecurity.insecure().channelCredentials()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e ->
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.UNAVAILABLE));
    }

    @Test
    void clientTrustingAnotherCaRefusesTheServer() throws Exception {
        start(serverTls(TransportSecurity.Mode.TLS));
        ChannelCredentials creds =
                TransportSecurity.builder()
                        .mode(TransportSecurity.Mode.TLS)
                        .trustRoots(otherPki.caCertificate())
                        .build()
                        .channelCredentials();
        assertThatThrownBy(() -> check(creds)).isInstanceOf(StatusRuntimeException.class);
    }

    @Test
    void mutualTlsNamesTheLearnerByItsCertificate() throws Exception {
        start(serverTls(TransportSecurity.Mode.MUTUAL_TLS));
        assertThat(check(clientTls("alice"))).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        assertThat(seenIdentity.get()).isEqualTo("alice");
    }

    @Test
    void mutualTlsRefusesClientWithoutCertificate() throws Exception {
        start(serverTls(TransportSecurity.Mode.MUTUAL_TLS));
        assertThatThrownBy(() -> check(clientTls(null))).isInstanceOf(StatusRuntimeException.class);
        assertThat(seenIdentity.get()).isNull();
    }

    @Test
    void mutualTlsRefusesCertificateFromUntrustedCa() throws Exception {
        start(serverTls(TransportSecurity.Mode.MUTUAL_TLS));
        ChannelCredentials creds =
                TransportSecurity.builder()
                        .mode(TransportSecurity.Mode.MUTUAL_TLS)
                        .trustRoots(pki.caCertificate())
                        .certificateChain(otherPki.learnerCertificate("mallory"))
                        .privateKey(otherPki.learnerKey("mallory"))
                        .build()
                        .channelCredentials();
        assertThatThrownBy(() -> check(creds)).isInstanceOf(StatusRuntimeException.class);
        assertThat(seenIdentity.get()).isNull();
    }

    @Test
    void bearerTokenTravelsAsCallCredentialsOverTls() throws Exception {
        start(serverTls(TransportSecurity.Mode.TLS));
        channel = channel(clientTls(null));
        HealthGrpc.newBlockingStub(channel)
                .withCallCredentials(BearerToken.credentials(() -> "tok-123", false))
                .check(HealthCheckRequest.getDefaultInstance());
        assertThat(seenToken.get()).isEqualTo("tok-123");
    }

    @Test
    void bearerTokenIsNotSentOverPlaintextUnlessAllowed() throws Exception {
        start(TransportSecurity.insecure().serverCredentials());
        channel = channel(TransportSecurity.insecure().channelCredentials());
        assertThatThrownBy(
                        () ->
                                HealthGrpc.newBlockingStub(channel)
                                        .withCallCredentials(
                                                BearerToken.credentials(() -> "tok-123", false))
                                        .check(HealthCheckRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e ->
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.UNAUTHENTICATED));
        assertThat(seenToken.get()).isNull();
        HealthGrpc.newBlockingStub(channel)
                .withCallCredentials(BearerToken.credentials(() -> "dev", true))
                .check(HealthCheckRequest.getDefaultInstance());
        assertThat(seenToken.get()).isEqualTo("dev");
    }

    @Test
    void missingCertificateFileIsNamedWithTheFix() {
        TransportSecurity s =
                TransportSecurity.builder()
                        .certificateChain(dir.resolve("nope.pem"))
                        .privateKey(pki.gatewayKey())
                        .build();
        assertThatThrownBy(s::serverCredentials)
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("nope.pem")
                .hasMessageContaining("does not exist")
                .hasMessageContaining("metisfl certs");
    }

    @Test
    void keyOfAnotherCertificateIsRefused() {
        TransportSecurity s =
                TransportSecurity.builder()
                        .certificateChain(pki.gatewayCertificate())
                        .privateKey(pki.controlKey())
                        .build();
        assertThatThrownBy(s::serverCredentials)
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("does not belong to certificate");
    }

    @Test
    void pkcs1KeyGetsTheConversionCommand() throws Exception {
        Path key = dir.resolve("rsa.key");
        Files.writeString(
                key, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        TransportSecurity s =
                TransportSecurity.builder()
                        .certificateChain(pki.gatewayCertificate())
                        .privateKey(key)
                        .build();
        assertThatThrownBy(s::serverCredentials)
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("openssl pkcs8 -topk8");
    }

    @Test
    void garbageCertificateFileIsRefused() throws Exception {
        Path cert = dir.resolve("garbage.pem");
        Files.writeString(cert, "hello\n");
        TransportSecurity s =
                TransportSecurity.builder()
                        .mode(TransportSecurity.Mode.TLS)
                        .trustRoots(cert)
                        .build();
        assertThatThrownBy(s::channelCredentials)
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("no '-----BEGIN CERTIFICATE-----' block");
    }

    @Test
    void mutualTlsServerNeedsTrustRoots() {
        TransportSecurity s =
                TransportSecurity.builder()
                        .mode(TransportSecurity.Mode.MUTUAL_TLS)
                        .certificateChain(pki.gatewayCertificate())
                        .privateKey(pki.gatewayKey())
                        .build();
        assertThatThrownBy(s::serverCredentials)
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("trust roots");
    }

    @Test
    void insecureModeWithFilesIsAContradiction() {
        assertThatThrownBy(
                        () ->
                                TransportSecurity.builder()
                                        .mode(TransportSecurity.Mode.INSECURE)
                                        .trustRoots(pki.caCertificate())
                                        .build())
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("insecure mode ignores certificate files");
    }

    @Test
    void learnerNamesThatAreNotFileSafeAreRefused() {
        assertThatThrownBy(() -> pki.issueLearner("../evil", Duration.ofDays(1)))
                .isInstanceOf(TransportConfigException.class)
                .hasMessageContaining("not allowed");
        assertThatThrownBy(
                        () ->
                                pki.issueLearner(
                                        DevCertificates.CONTROL_IDENTITY, Duration.ofDays(1)))
                .hasMessageContaining("reserved");
    }

    private ServerCredentials serverTls(TransportSecurity.Mode mode) {
        TransportSecurity.Builder b =
                TransportSecurity.builder()
                        .mode(mode)
                        .certificateChain(pki.gatewayCertificate())
                        .privateKey(pki.gatewayKey());
        if (mode == TransportSecurity.Mode.MUTUAL_TLS) {
            b.trustRoots(pki.caCertificate());
        }
        return b.build().serverCredentials();
    }

    private ChannelCredentials clientTls(String learner) {
        TransportSecurity.Builder b =
                TransportSecurity.builder()
                        .mode(
                                learner == null
                                        ? TransportSecurity.Mode.TLS
                                        : TransportSecurity.Mode.MUTUAL_TLS)
                        .trustRoots(pki.caCertificate());
        if (learner != null) {
            b.certificateChain(pki.learnerCertificate(learner)).privateKey(pki.learnerKey(learner));
        }
        return b.build().channelCredentials();
    }

    private void start(ServerCredentials creds) throws Exception {
        HealthStatusManager health = new HealthStatusManager();
        server =
                NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0), creds)
                        .addService(
                                ServerInterceptors.intercept(
                                        health.getHealthService(),
                                        new io.grpc.ServerInterceptor() {
                                            @Override
                                            public <Q, R>
                                                    io.grpc.ServerCall.Listener<Q> interceptCall(
                                                            io.grpc.ServerCall<Q, R> call,
                                                            io.grpc.Metadata headers,
                                                            io.grpc.ServerCallHandler<Q, R> next) {
                                                seenIdentity.set(PeerIdentity.current());
                                                seenToken.set(BearerToken.current());
                                                return next.startCall(call, headers);
                                            }
                                        },
                                        BearerToken.interceptor(),
                                        new PeerIdentity()))
                        .build()
                        .start();
    }

    private ManagedChannel channel(ChannelCredentials creds) {
        return NettyChannelBuilder.forAddress("127.0.0.1", server.getPort(), creds).build();
    }

    private HealthCheckResponse.ServingStatus check(ChannelCredentials creds) {
        if (channel != null) {
            channel.shutdownNow();
        }
        channel = channel(creds);
        return HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance())
                .getStatus();
    }
}
