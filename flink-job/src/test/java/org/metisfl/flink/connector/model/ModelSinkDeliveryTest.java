package org.metisfl.flink.connector.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.flink.connector.gateway.server.GatewayServer;
import org.metisfl.flink.connector.gateway.server.GatewayState;
import org.metisfl.flink.connector.gateway.server.StampedEventQueue;
import org.metisfl.flink.connector.gateway.server.TokenAuthority;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * The model's way from the coordinator's directives through the sink and gRPC (or the in-JVM
 * hand-over) to the gateways' state, with a model sent in several shards and chunks (64 kb
 * messages: 4 kb chunks). Delivery is asynchronous: each step waits until the sink has delivered
 * everything so far before looking at the gateways.
 */
class ModelSinkDeliveryTest {
    private static final int SHARD = 2048;
    private static final String SECRET = "gateway-secret-for-tests";

    private final List<GatewayServer> servers = new ArrayList<>();
    private ModelSinkWriter sink;

    @AfterEach
    void tearDown() {
        if (sink != null) {
            sink.close();
        }
        servers.forEach(GatewayServer::close);
    }

    private static FederationConfig config(String protocol) {
        return FederationConfig.of(
                Map.of(
                        "protocol.type",
                        protocol,
                        "aggregation.shard-size",
                        Integer.toString(SHARD),
                        "gateway.max-message-size",
                        "64kb"));
    }

    private record Gateway(GatewayState state, StampedEventQueue queue, Directive announce) {}

    private Gateway gateway(FederationConfig config, int index) throws Exception {
        StampedEventQueue queue = new StampedEventQueue(System::currentTimeMillis);
        GatewayState state =
                new GatewayState(
                        GatewayOptions.from(config), index, new TokenAuthority(SECRET), queue);
        GatewaySecurity dev = GatewaySecurity.insecureForDevelopment();
        GatewayServer server =
                new GatewayServer(state, "127.0.0.1", 0, dev, new Admission(dev, Map.of()));
        servers.add(server);
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ANNOUNCE);
        e.gateway = index;
        e.host = "127.0.0.1";
        e.port = server.controlPort();
        e.secret = server.controlToken();
        e.controlFingerprint = server.controlFingerprint();
        return new Gateway(state, queue, Directive.announce(e));
    }

    private static float[] model(int n, float base) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = base + i * 1e-3f;
        }
        return v;
    }

    /** What the coordinator emits to publish {@code values} as version {@code version}. */
    private void publish(long version, float[] values, long planRound) throws Exception {
        int numShards = TensorSpecInfo.numShards(values.length, SHARD);
        for (int s = 0; s < numShards; s++) {
            int from = s * SHARD;
            float[] shard = Arrays.copyOfRange(values, from, Math.min(values.length, from + SHARD));
            sink.write(Directive.modelShard(version, s, from, shard), null);
        }
        sink.write(publishDirective(version, values.length, planRound), null);
        sink.awaitDelivered();
    }

    private static Directive publishDirective(long version, int values, long planRound) {
        Directive d = new Directive();
        d.kind = Directive.Kind.PUBLISH;
        d.modelVersion = version;
        d.modelValues = values;
        d.tensors = List.of(new TensorSpecInfo("w", new long[] {values}));
        d.numShards = TensorSpecInfo.numShards(values, SHARD);
        d.shardSize = SHARD;
        if (planRound > 0) {
            d.planRound = planRound;
            d.participants = List.of("learner-a");
            d.quorum = 1;
            d.deadline = System.currentTimeMillis() + 60_000;
            d.localSteps = new HashMap<>();
        }
        return d;
    }

    private static float[] served(GatewayState state) {
        var m = state.model();
        assertThat(m.chunks()).allSatisfy(c -> assertThat(c.size()).isLessThanOrEqualTo(4096));
        float[] out = new float[(int) (m.totalBytes() / Float.BYTES)];
        int at = 0;
        for (var c : m.chunks()) {
            float[] part = ModelCodec.toFloats(c.asReadOnlyByteBuffer());
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }

    /** Over gRPC, and handed over in this JVM (how the embedded federation runs). */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void gatewaysGetTheModelFromItsShardsAndLateOnesGetTheLatest(boolean local) throws Exception {
        FederationConfig config = config("synchronous");
        sink = new ModelSinkWriter(config.maxMessageBytes(), local);
        Gateway first = gateway(config, 0);
        sink.write(first.announce(), null);

        sink.write(publishDirective(-1, 0, 0), null);
        sink.awaitDelivered();
        assertThat(first.state().directiveSeen()).isTrue();
        assertThat(first.state().model()).isNull();

        float[] v0 = model(5000, 1);
        publish(0, v0, 1);
        assertThat(first.state().model().version()).isZero();
        assertThat(first.state().model().totalBytes()).isEqualTo(20_000);
        assertThat(served(first.state())).containsExactly(v0);
        assertThat(first.state().plan().round()).isEqualTo(1);

        float[] v1 = model(5000, 2);
        publish(1, v1, 2);
        assertThat(served(first.state())).containsExactly(v1);

        Gateway late = gateway(config, 1);
        sink.write(late.announce(), null);
        sink.awaitDelivered();
        assertThat(late.state().model().version()).isEqualTo(1);
        assertThat(served(late.state())).containsExactly(v1);
        assertThat(late.state().plan().round()).isEqualTo(2);

        // The same version again (e.g. after a gateway restart): kept, not encoded anew.
        publish(1, v1, 3);
        assertThat(served(first.state())).containsExactly(v1);
        assertThat(first.state().plan().round()).isEqualTo(3);
        assertThat(late.state().plan().round()).isEqualTo(3);
    }

    @Test
    void anAsynchronousGatewayHandsTheFirstModelToTheAggregatorsShardByShard() throws Exception {
        FederationConfig config = config("asynchronous");
        sink = new ModelSinkWriter(config.maxMessageBytes());
        Gateway g = gateway(config, 0);
        sink.write(g.announce(), null);

        float[] v0 = model(5000, 3);
        publish(0, v0, 0);

        List<GatewayEvent> shards = new ArrayList<>();
        for (StampedEventQueue.Batch b = g.queue().poll(); b != null; b = g.queue().poll()) {
            for (GatewayEvent e : b.events()) {
                if (e.kind == GatewayEvent.Kind.MODEL_SHARD) {
                    shards.add(e);
                }
            }
        }
        assertThat(shards).extracting(e -> e.shard).containsExactly(0, 1, 2);
        for (GatewayEvent e : shards) {
            int from = e.shard * SHARD;
            assertThat(e.round).isZero();
            assertThat(e.numShards).isEqualTo(3);
            assertThat(e.values.values())
                    .containsExactly(
                            Arrays.copyOfRange(v0, from, Math.min(v0.length, from + SHARD)));
        }
    }
}
