package org.metisfl.flink.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.LeaveRequest;
import org.metisfl.proto.v1.PublishResponse;
import org.metisfl.proto.v1.RenewTokenRequest;
import org.metisfl.proto.v1.RenewTokenResponse;
import org.metisfl.proto.v1.StreamTasksRequest;
import org.metisfl.proto.v1.Task;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.DevSecurity;
import org.metisfl.transport.TransportSecurity;

/**
 * A federation job with TLS on the learner port and admission by enrollment token, on a MiniCluster
 * with RocksDB, reached over real gRPC on 127.0.0.1 with real certificates.
 */
class SecureGatewayITCase {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir Path work;

    private DevSecurity security;
    private EmbeddedFederation federation;
    private int port;
    private final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        security = DevSecurity.ensure(work.resolve("certs"));
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Map<String, String> settings = new HashMap<>(security.jobSettings());
        settings.put("federation.rounds", "1");
        settings.put("federation.min-learners", "50");
        settings.put("federation.results-file", work.resolve("results.jsonl").toString());
        settings.put("gateway.port", Integer.toString(port));
        settings.put("job.checkpoint-interval", "200 ms");
        federation = EmbeddedFederation.start(FederationConfig.of(settings), -1, work);
        federation.awaitGatewaysReady(Duration.ofSeconds(60));
    }

    @AfterEach
    void stop() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        federation.close();
    }

    private ManagedChannel channel(ChannelCredentials credentials, int to) {
        ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", to, credentials).build();
        channels.add(c);
        return c;
    }

    private LearnerServiceGrpc.LearnerServiceBlockingStub learnerPort(String bearer) {
        var stub =
                LearnerServiceGrpc.newBlockingStub(
                                channel(security.learnerTransport().channelCredentials(), port))
                        .withDeadlineAfter(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        return bearer == null
                ? stub
                : stub.withCallCredentials(BearerToken.credentials(() -> bearer, false));
    }

    private static JoinRequest join(String name) {
        return JoinRequest.newBuilder().setName(name).setNumTrainingExamples(10).build();
    }

    private static Status.Code codeOf(Throwable t) {
        return ((StatusRuntimeException) t).getStatus().getCode();
    }

    @Test
    void plaintextClientIsRefusedByTheTlsLearnerPort() {
        var plaintext =
                LearnerServiceGrpc.newBlockingStub(
                                channel(TransportSecurity.insecure().channelCredentials(), port))
                        .withDeadlineAfter(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> plaintext.join(join("eve")))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e ->
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.UNAVAILABLE));
    }

    @Test
    void joinWithoutAnEnrollmentTokenIsRefusedWithTheFix() {
        assertThatThrownBy(() -> learnerPort(null).join(join("eve")))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode())
                                    .isEqualTo(Status.Code.UNAUTHENTICATED);
                            assertThat(e.getStatus().getDescription())
                                    .contains("enrollment token")
                                    .contains("metisfl enroll create");
                        });
        assertThatThrownBy(() -> learnerPort("mfl-enroll-v1.Zm9v.YmFy").join(join("eve")))
                .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    @Test
    void aSingleUseEnrollmentTokenAdmitsOneLearner() {
        String token = security.enrollmentToken(1);
        JoinResponse first = learnerPort(token).join(join("alice"));
        assertThat(first.getLearnerId()).startsWith("learner-");
        assertThat(first.getTokenExpiresAtMs()).isGreaterThan(System.currentTimeMillis());
        assertThatThrownBy(() -> learnerPort(token).join(join("mallory")))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getDescription()).contains("used up"));
    }

    @Test
    void sessionTokensTravelAsCallCredentialsRenewAndAreRevokedByLeave() throws Exception {
        JoinResponse joined = learnerPort(security.enrollmentToken(1)).join(join("alice"));
        Credentials id = Credentials.newBuilder().setLearnerId(joined.getLearnerId()).build();

        assertThat(openTaskStream(joined.getToken(), id))
                .as("a valid token as call credentials opens the task stream")
                .isNull();
        assertThat(openTaskStream("forged", id)).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(openTaskStream(null, id))
                .as("no token at all")
                .isEqualTo(Status.Code.UNAUTHENTICATED);

        RenewTokenResponse renewed =
                learnerPort(joined.getToken())
                        .renewToken(
                                RenewTokenRequest.newBuilder()
                                        .setLearnerId(joined.getLearnerId())
                                        .build());
        assertThat(renewed.getTokenExpiresAtMs())
                .isGreaterThanOrEqualTo(joined.getTokenExpiresAtMs());
        assertThat(openTaskStream(renewed.getToken(), id)).isNull();

        learnerPort(renewed.getToken()).leave(LeaveRequest.newBuilder().setCredentials(id).build());
        assertThat(openTaskStream(renewed.getToken(), id))
                .as("after Leave the token is revoked")
                .isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void aLearnerCredentialCannotPublishADirective() throws Exception {
        JoinResponse joined = learnerPort(security.enrollmentToken(1)).join(join("mallory"));
        // The learner port does not serve the control service at all.
        var onLearnerPort =
                GatewayControlServiceGrpc.newStub(
                                channel(security.learnerTransport().channelCredentials(), port))
                        .withCallCredentials(BearerToken.credentials(joined::getToken, false));
        assertThat(publish(onLearnerPort)).isEqualTo(Status.Code.UNIMPLEMENTED);
        // The control endpoint refuses a learner's token (TLS accepted here whatever the
        // certificate: what is tested is the credential).
        assertThat(LocalGateways.controlPorts()).hasSize(1);
        int control = LocalGateways.controlPorts().iterator().next();
        assertThat(control).isNotEqualTo(port);
        var onControl =
                GatewayControlServiceGrpc.newStub(
                                channel(AnyCertificate.channelCredentials(), control))
                        .withCallCredentials(BearerToken.credentials(joined::getToken, false));
        assertThat(publish(onControl)).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    /** Null if the stream opened (a first message or no error within a second), else the code. */
    private Status.Code openTaskStream(String bearer, Credentials id) throws Exception {
        CompletableFuture<Status.Code> outcome = new CompletableFuture<>();
        var stub =
                LearnerServiceGrpc.newStub(
                        channel(security.learnerTransport().channelCredentials(), port));
        if (bearer != null) {
            stub = stub.withCallCredentials(BearerToken.credentials(() -> bearer, false));
        }
        stub.streamTasks(
                StreamTasksRequest.newBuilder().setCredentials(id).build(),
                new StreamObserver<Task>() {
                    @Override
                    public void onNext(Task t) {
                        outcome.complete(null);
                    }

                    @Override
                    public void onError(Throwable t) {
                        outcome.complete(Status.fromThrowable(t).getCode());
                    }

                    @Override
                    public void onCompleted() {
                        outcome.complete(Status.Code.OK);
                    }
                });
        try {
            return outcome.get(1, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException stillOpen) {
            return null;
        }
    }

    private static Status.Code publish(GatewayControlServiceGrpc.GatewayControlServiceStub stub)
            throws Exception {
        CompletableFuture<Status.Code> outcome = new CompletableFuture<>();
        StreamObserver<DirectiveChunk> out =
                stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                        .publish(
                                new StreamObserver<PublishResponse>() {
                                    @Override
                                    public void onNext(PublishResponse r) {}

                                    @Override
                                    public void onError(Throwable t) {
                                        outcome.complete(Status.fromThrowable(t).getCode());
                                    }

                                    @Override
                                    public void onCompleted() {
                                        outcome.complete(Status.Code.OK);
                                    }
                                });
        out.onNext(
                DirectiveChunk.newBuilder()
                        .setHeader(
                                DirectiveHeader.newBuilder()
                                        .setModelVersion(-1)
                                        .setFinished(true)
                                        .setFinishReason("forged by a learner"))
                        .build());
        out.onCompleted();
        return outcome.get(10, TimeUnit.SECONDS);
    }
}
