package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.transport.DevSecurity;
import org.metisfl.transport.TransportSecurity;

/**
 * The per-address join limit: in the limiter on a fake clock, and on a real TLS gateway on
 * 127.0.0.1 with learners calling from two loopback addresses (127.0.0.1 and 127.0.0.2).
 */
class JoinRatePerAddressTest {
    @TempDir Path dir;

    private long nanos;
    private GatewayServer server;
    private Thread durability;

    private JoinLimiter limiter(Map<String, String> settings) {
        return new JoinLimiter(FederationConfig.of(settings).gatewayLimits(), () -> nanos);
    }

    @Test
    void oneAddressPastItsRateIsRefusedWithTheTimeUntilItsNextJoinWhileOthersJoin() {
        JoinLimiter joins = limiter(Map.of("gateway.limits.join-rate-per-address", "4"));
        for (int i = 0; i < 4; i++) {
            assertThat(joins.admit(0, "10.0.0.1")).isNull();
        }
        StatusRuntimeException refused = joins.admit(0, "10.0.0.1");
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getStatus().getDescription())
                .contains("gateway.limits.join-rate-per-address");
        // An empty bucket of 4 per second holds a token again after 250 ms.
        assertThat(refused.getTrailers().get(LearnerStatus.RETRY_AFTER_MS)).isEqualTo("250");
        for (int i = 0; i < 4; i++) {
            assertThat(joins.admit(0, "10.0.0.2")).as("another address").isNull();
        }
        assertThat(joins.admit(0, null)).as("no address: gateway-wide limits only").isNull();

        nanos += 100_000_000L; // 0.1 s: 0.4 of a token, 150 ms to go
        StatusRuntimeException again = joins.admit(0, "10.0.0.1");
        assertThat(again.getTrailers().get(LearnerStatus.RETRY_AFTER_MS)).isEqualTo("150");
        nanos += 150_000_000L;
        assertThat(joins.admit(0, "10.0.0.1")).isNull();
    }

    @Test
    void aRefusalByOneAddressDoesNotSpendTheGatewayWideBudget() {
        JoinLimiter joins =
                limiter(
                        Map.of(
                                "gateway.limits.join-rate", "5",
                                "gateway.limits.join-rate-per-address", "2"));
        assertThat(joins.admit(0, "10.0.0.1")).isNull();
        assertThat(joins.admit(0, "10.0.0.1")).isNull();
        for (int i = 0; i < 100; i++) {
            assertThat(joins.admit(0, "10.0.0.1")).isNotNull();
        }
        // 3 of the gateway's 5 remain, for other addresses.
        assertThat(joins.admit(0, "10.0.0.2")).isNull();
        assertThat(joins.admit(0, "10.0.0.2")).isNull();
        assertThat(joins.admit(0, "10.0.0.3")).isNull();
        assertThat(joins.admit(0, "10.0.0.4").getStatus().getDescription())
                .contains("gateway.limits.join-rate")
                .doesNotContain("per-address");
    }

    @Test
    void bucketsOfAddressesQuietForASecondAreForgotten() {
        JoinLimiter joins = limiter(Map.of("gateway.limits.join-rate-per-address", "1"));
        for (int i = 0; i < 100; i++) {
            assertThat(joins.admit(0, "10.0.1." + i)).isNull();
        }
        assertThat(joins.addressesTracked()).isEqualTo(100);
        nanos += 1_000_000_000L;
        assertThat(joins.admit(0, "10.0.2.1")).isNull();
        assertThat(joins.addressesTracked()).isEqualTo(1);
    }

    @Test
    void offByDefaultAndANegativeRateIsRefused() {
        JoinLimiter joins = limiter(Map.of());
        for (int i = 0; i < 1000; i++) {
            assertThat(joins.admit(0, "10.0.0.1")).isNull();
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                                Map.of(
                                                        "gateway.limits.join-rate-per-address",
                                                        "-1"))
                                        .gatewayLimits())
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("gateway.limits.join-rate-per-address");
    }

    @Test
    void addressKeysAreTheIpv4AddressAndTheIpv6Slash64() throws Exception {
        assertThat(ClientAddress.keyOf(new InetSocketAddress("192.0.2.7", 4000)))
                .isEqualTo("192.0.2.7");
        SocketAddress a = new InetSocketAddress(InetAddress.getByName("2001:db8:1:2::5"), 1);
        SocketAddress b = new InetSocketAddress(InetAddress.getByName("2001:db8:1:2:ff::9"), 2);
        SocketAddress other = new InetSocketAddress(InetAddress.getByName("2001:db8:1:3::5"), 1);
        assertThat(ClientAddress.keyOf(a)).isEqualTo(ClientAddress.keyOf(b));
        assertThat(ClientAddress.keyOf(a)).isNotEqualTo(ClientAddress.keyOf(other));
        assertThat(ClientAddress.keyOf(new io.grpc.inprocess.InProcessSocketAddress("x"))).isNull();
    }

    @Test
    void realGatewayRefusesTheThirdJoinFromOneAddressAndAdmitsAnotherAddress() throws Exception {
        DevSecurity dev = DevSecurity.ensure(dir.resolve("certs"));
        Map<String, String> settings = new HashMap<>(dev.jobSettings());
        settings.put("security.admission", "open");
        settings.put("gateway.limits.join-rate-per-address", "2");
        FederationConfig config = FederationConfig.of(settings);
        GatewaySecurity security = GatewaySecurity.from(config);
        StampedEventQueue queue = new StampedEventQueue(System::currentTimeMillis);
        GatewayState state =
                new GatewayState(
                        GatewayOptions.from(config),
                        0,
                        new TokenAuthority(TokenAuthority.newSecret()),
                        queue);
        server =
                new GatewayServer(
                        state, "127.0.0.1", 0, security, new Admission(security, Map.of()));
        // Stands in for the reader: every queued join becomes durable at once.
        durability =
                new Thread(
                        () -> {
                            while (!Thread.currentThread().isInterrupted()) {
                                StampedEventQueue.Batch b = queue.poll();
                                if (b == null) {
                                    try {
                                        Thread.sleep(5);
                                    } catch (InterruptedException e) {
                                        return;
                                    }
                                } else if (b.onDurable() != null) {
                                    b.onDurable().run();
                                }
                            }
                        });
        durability.setDaemon(true);
        durability.start();

        ManagedChannel first = channelFrom("127.0.0.1", dev);
        ManagedChannel second = channelFrom("127.0.0.2", dev);
        try {
            LearnerServiceGrpc.LearnerServiceBlockingStub one =
                    LearnerServiceGrpc.newBlockingStub(first)
                            .withDeadlineAfter(20, TimeUnit.SECONDS);
            LearnerServiceGrpc.LearnerServiceBlockingStub two =
                    LearnerServiceGrpc.newBlockingStub(second)
                            .withDeadlineAfter(20, TimeUnit.SECONDS);
            JoinRequest join = JoinRequest.newBuilder().setName("l").build();
            assertThat(one.join(join).getLearnerId()).startsWith("learner-");
            assertThat(one.join(join).getLearnerId()).startsWith("learner-");
            StatusRuntimeException refused = null;
            try {
                one.join(join);
            } catch (StatusRuntimeException e) {
                refused = e;
            }
            assertThat(refused).as("third join from 127.0.0.1 within the second").isNotNull();
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(refused.getStatus().getDescription())
                    .contains("gateway.limits.join-rate-per-address");
            assertThat(refused.getTrailers().get(LearnerStatus.RETRY_AFTER_MS)).isNotNull();
            long retry = Long.parseLong(refused.getTrailers().get(LearnerStatus.RETRY_AFTER_MS));
            assertThat(retry).isBetween(1L, 500L);

            assertThat(two.join(join).getLearnerId())
                    .as("127.0.0.2 has its own bucket")
                    .startsWith("learner-");
        } finally {
            first.shutdownNow();
            second.shutdownNow();
        }
    }

    private ManagedChannel channelFrom(String localAddress, DevSecurity dev) throws Exception {
        return NettyChannelBuilder.forAddress(
                        "127.0.0.1",
                        server.port(),
                        TransportSecurity.builder()
                                .trustRoots(dev.trustRoots())
                                .build()
                                .channelCredentials())
                .localSocketPicker(
                        new NettyChannelBuilder.LocalSocketPicker() {
                            @Override
                            public SocketAddress createSocketAddress(
                                    SocketAddress remote, io.grpc.Attributes attrs) {
                                return new InetSocketAddress(localAddress, 0);
                            }
                        })
                .build();
    }

    @AfterEach
    void stop() {
        if (durability != null) {
            durability.interrupt();
        }
        if (server != null) {
            server.close();
        }
    }
}
