package org.metisfl.flink.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.FailoverCluster;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.AdmittedLearner;
import org.metisfl.proto.v1.GatewayOperatorServiceGrpc;
import org.metisfl.proto.v1.ListLearnersRequest;
import org.metisfl.proto.v1.ListLearnersResponse;
import org.metisfl.proto.v1.RenewTokenRequest;
import org.metisfl.proto.v1.RevokeLearnerRequest;
import org.metisfl.proto.v1.RevokeLearnerResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.DevSecurity;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.OperatorTokens;

/**
 * The operator's revocation, end to end on a MiniCluster with RocksDB and two gateways serving TLS,
 * over real gRPC on 127.0.0.1: a learner revoked at one gateway's control endpoint is refused at
 * both gateways on every RPC, its upload in flight at the other gateway is refused at its last
 * byte, its task stream closes, and all of it holds after the task manager dies and the job
 * restarts from its checkpoint. Only an operator token opens the operator service; a learner's
 * session token, an enrollment token and the learner port do not. A Leave at one gateway is refused
 * at the other too.
 */
class OperatorRevocationITCase {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int N = 8;
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));

    @TempDir Path work;

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<RawLearner> learners = new ArrayList<>();
    private DevSecurity dev;
    private OperatorTokens operator;

    @AfterEach
    void close() throws Exception {
        for (RawLearner l : learners) {
            l.close();
        }
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void revocationReachesEveryGatewayRefusesTheUploadInFlightAndSurvivesAFailover()
            throws Exception {
        dev = DevSecurity.ensure(work.resolve("certs"));
        Path operatorKey = work.resolve("operator.key");
        EnrollmentTokens.createKeyFile(operatorKey);
        operator = OperatorTokens.fromKeyFile(operatorKey);
        Path initial = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                initial, List.of(new TensorSpecInfo("w", new long[] {N})), new float[N]);
        int port = FederationHarness.freePorts(2);
        Map<String, String> s = new HashMap<>(dev.jobSettings());
        s.put("security.admission", "open");
        s.put("security.operator-key", operatorKey.toString());
        s.put("gateway.port", Integer.toString(port));
        s.put("gateway.parallelism", "2");
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("job.checkpoint-interval", "300 ms");
        s.put("federation.rounds", "20");
        s.put("federation.min-learners", "3");
        s.put("round.participant-grace", "1 s");
        s.put("federation.initial-model", initial.toString());
        s.put("evaluation.enabled", "false");
        FederationConfig config = FederationConfig.of(s);

        try (FailoverCluster cluster = FailoverCluster.submit(config, work)) {

            // mallory and bob at gateway 0, carol at gateway 1.
            RawLearner mallory = joinWhenReady(port, "mallory");
            RawLearner bob = joinWhenReady(port, "bob");
            RawLearner carol = joinWhenReady(port + 1, "carol");
            for (RawLearner l : List.of(mallory, bob, carol)) {
                l.openTaskStream();
            }
            long round = awaitTrain(mallory, 1);
            awaitTrain(bob, round);

            // The operator's service: on the control endpoints only, and only with its token.
            assertThat(LocalGateways.controlPorts()).hasSize(2);
            List<Integer> controls = new ArrayList<>(LocalGateways.controlPorts());
            String learnerToken = sessionToken(bob);
            for (int control : controls) {
                assertThat(list(control, () -> learnerToken).getCode())
                        .as("a learner's session token")
                        .isEqualTo(Status.Code.UNAUTHENTICATED);
                assertThat(list(control, () -> dev.enrollmentToken(0)).getCode())
                        .as("an enrollment token")
                        .isEqualTo(Status.Code.UNAUTHENTICATED);
                assertThat(list(control, () -> null).getCode())
                        .as("no credential")
                        .isEqualTo(Status.Code.UNAUTHENTICATED);
            }
            var onLearnerPort =
                    GatewayOperatorServiceGrpc.newBlockingStub(
                                    channel(dev.learnerTransport().channelCredentials(), port))
                            .withCallCredentials(
                                    BearerToken.credentials(
                                            () -> operator.issue(Instant.now()), false));
            assertThatThrownBy(
                            () ->
                                    onLearnerPort.listLearners(
                                            ListLearnersRequest.getDefaultInstance()))
                    .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.UNIMPLEMENTED));

            // The listing: every learner at the gateway it joined, connected.
            Map<String, AdmittedLearner> listed = new HashMap<>();
            for (int control : controls) {
                for (AdmittedLearner a :
                        operatorStub(control)
                                .listLearners(ListLearnersRequest.getDefaultInstance())
                                .getLearnersList()) {
                    listed.put(a.getName(), a);
                }
            }
            assertThat(listed).containsOnlyKeys("mallory", "bob", "carol");
            assertThat(listed.get("mallory").getLearnerId()).isEqualTo(mallory.id());
            assertThat(listed.get("mallory").getGateway()).isEqualTo(0);
            assertThat(listed.get("carol").getGateway()).isEqualTo(1);
            assertThat(listed.get("mallory").getState()).isEqualTo("connected");
            assertThat(listed.get("mallory").getJoinedAtMs())
                    .isBetween(System.currentTimeMillis() - 120_000, System.currentTimeMillis());
            assertThat(listed.get("mallory").getTokenExpiresAtMs())
                    .isGreaterThan(System.currentTimeMillis());

            // mallory starts an upload at gateway 0 (header only); the operator revokes it at
            // gateway 1's control endpoint.
            RawLearner.PartialUpload inFlight = mallory.beginSubmit(round, SPECS, 10, new float[N]);
            int gateway1Control = controlOf(controls, 1);
            RevokeLearnerResponse revoked =
                    operatorStub(gateway1Control)
                            .revokeLearner(
                                    RevokeLearnerRequest.newBuilder()
                                            .setLearnerId(mallory.id())
                                            .build());
            assertThat(revoked.getAlreadyRevoked()).isFalse();
            assertThat(revoked.getDurable()).isTrue();
            awaitRefused(mallory, port);
            assertThatThrownBy(inFlight::finish)
                    .as("the upload in flight, at its last byte")
                    .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.UNAUTHENTICATED));
            awaitRefused(mallory, port + 1);
            assertThat(
                            operatorStub(controlOf(controls, 0))
                                    .listLearners(ListLearnersRequest.getDefaultInstance())
                                    .getLearnersList())
                    .filteredOn(a -> a.getName().equals("mallory"))
                    .extracting(AdmittedLearner::getState)
                    .containsExactly("revoked");
            assertThatThrownBy(
                            () ->
                                    operatorStub(gateway1Control)
                                            .revokeLearner(
                                                    RevokeLearnerRequest.newBuilder()
                                                            .setLearnerId("learner-\\nforged")
                                                            .build()))
                    .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.INVALID_ARGUMENT));

            // carol leaves at gateway 1: gateway 0 refuses her too.
            carol.leave();
            awaitRefused(carol, port);

            // bob is unaffected: the round goes on without mallory (dropped, she left).
            SubmitUpdateResponse accepted = bob.submit(round, SPECS, new float[N], 10, Map.of());
            assertThat(accepted.getStatus()).isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);

            // The task manager dies; the job restarts from its last checkpoint.
            Thread.sleep(1_000);
            cluster.replaceTaskManager();
            awaitRenewed(bob, port);
            awaitRefused(mallory, port);
            awaitRefused(mallory, port + 1);
            awaitRefused(carol, port);
            awaitRefused(carol, port + 1);
            assertThat(renew(bob, port + 1)).as("bob's token is valid at both gateways").isNull();
        }
    }

    private static Status codeStatus(Throwable t) {
        return ((StatusRuntimeException) t).getStatus();
    }

    private static Status.Code codeOf(Throwable t) {
        return codeStatus(t).getCode();
    }

    private Status list(int control, Supplier<String> bearer) {
        try {
            GatewayOperatorServiceGrpc.newBlockingStub(
                            channel(AnyCertificate.channelCredentials(), control))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .withCallCredentials(BearerToken.credentials(bearer::get, false))
                    .listLearners(ListLearnersRequest.getDefaultInstance());
            return Status.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
    }

    private GatewayOperatorServiceGrpc.GatewayOperatorServiceBlockingStub operatorStub(
            int control) {
        return GatewayOperatorServiceGrpc.newBlockingStub(
                        channel(AnyCertificate.channelCredentials(), control))
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .withCallCredentials(
                        BearerToken.credentials(() -> operator.issue(Instant.now()), false));
    }

    /** The control port of gateway {@code index}, by what its listing says. */
    private int controlOf(List<Integer> controls, int index) {
        for (int c : controls) {
            ListLearnersResponse r =
                    operatorStub(c).listLearners(ListLearnersRequest.getDefaultInstance());
            if (r.getGateway() == index) {
                return c;
            }
        }
        throw new AssertionError("no control endpoint of gateway " + index);
    }

    private RawLearner joinWhenReady(int port, String name) throws InterruptedException {
        RawLearner l =
                new RawLearner("127.0.0.1", port, dev.learnerTransport().channelCredentials());
        learners.add(l);
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                l.join(name, 10);
                return l;
            } catch (RuntimeException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    private static long awaitTrain(RawLearner l, long atLeast) throws InterruptedException {
        while (true) {
            Task t = l.nextTask(Task.KindCase.TRAIN, WAIT);
            if (t.getRound() >= atLeast) {
                return t.getRound();
            }
        }
    }

    private String sessionToken(RawLearner l) {
        return l.credentials().getToken();
    }

    /** Null if the learner's token renews at the gateway on {@code port}, else the status. */
    private Status renew(RawLearner l, int port) {
        try {
            org.metisfl.proto.v1.LearnerServiceGrpc.newBlockingStub(
                            channel(dev.learnerTransport().channelCredentials(), port))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .withCallCredentials(
                            BearerToken.credentials(() -> l.credentials().getToken(), false))
                    .renewToken(RenewTokenRequest.newBuilder().setLearnerId(l.id()).build());
            return null;
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
    }

    private void awaitRefused(RawLearner l, int port) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            Status s = renew(l, port);
            if (s != null && s.getCode() == Status.Code.UNAUTHENTICATED) {
                assertThat(s.getDescription()).contains("revoked");
                return;
            }
            assertThat(System.nanoTime())
                    .as(l.id() + " still accepted at " + port + ": " + s)
                    .isLessThan(end);
            Thread.sleep(200);
        }
    }

    private void awaitRenewed(RawLearner l, int port) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            Status s = renew(l, port);
            if (s == null) {
                return;
            }
            assertThat(System.nanoTime()).as("gateway at " + port + " back: " + s).isLessThan(end);
            Thread.sleep(300);
        }
    }

    private ManagedChannel channel(ChannelCredentials credentials, int to) {
        ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", to, credentials).build();
        channels.add(c);
        return c;
    }
}
