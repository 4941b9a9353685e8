package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;

/**
 * Each operator's options snapshot carries the validated configuration's values and survives the
 * Java serialization Flink ships operators with.
 */
class ComponentOptionsTest {

    private static final FederationConfig CONFIG =
            FederationConfig.of(
                    Map.ofEntries(
                            Map.entry("federation.name", "opts"),
                            Map.entry("federation.rounds", "7"),
                            Map.entry("federation.initial-model", "/models/m.bin"),
                            Map.entry("protocol.type", "semi-synchronous"),
                            Map.entry("round.quorum", "0.75"),
                            Map.entry("round.timeout", "42 s"),
                            Map.entry("aggregation.rule", "multi-krum"),
                            Map.entry("aggregation.krum-byzantine", "1"),
                            Map.entry("aggregation.krum-selected", "3"),
                            Map.entry("aggregation.trim-fraction", "0.2"),
                            Map.entry("aggregation.scaling", "batches"),
                            Map.entry("aggregation.shard-size", "2048"),
                            Map.entry("async.staleness", "hinge"),
                            Map.entry("async.staleness-a", "2.5"),
                            Map.entry("async.staleness-b", "4"),
                            Map.entry("termination.metric", "acc"),
                            Map.entry("termination.metric-cutoff", "0.9"),
                            Map.entry("gateway.host", "127.0.0.2"),
                            Map.entry("gateway.port", "7000"),
                            Map.entry("gateway.parallelism", "3"),
                            Map.entry("train.epochs", "4"),
                            Map.entry("evaluation.batch-size", "99")));

    @Test
    void theCoordinatorsSnapshotHasItsPart() throws Exception {
        CoordinatorOptions o = roundTrip(CoordinatorOptions.from(CONFIG));
        assertThat(o.name()).isEqualTo("opts");
        assertThat(o.rounds()).isEqualTo(7);
        assertThat(o.initialModelFile()).contains("/models/m.bin");
        assertThat(o.semiSynchronous()).isTrue();
        assertThat(o.asynchronous()).isFalse();
        assertThat(o.quorum()).isEqualTo(0.75);
        assertThat(o.roundTimeoutMs()).isEqualTo(42_000);
        assertThat(o.rules().rule()).isEqualTo(FederationOptions.Rule.MULTI_KRUM);
        assertThat(o.terminationMetric()).contains("acc");
        assertThat(o.shardSize()).isEqualTo(2048);
    }

    @Test
    void theGatewaysSnapshotHasItsPart() throws Exception {
        GatewayOptions o = roundTrip(GatewayOptions.from(CONFIG));
        assertThat(o.gatewayHost()).isEqualTo("127.0.0.2");
        assertThat(o.gatewayAdvertisedHost()).isEmpty();
        assertThat(o.gatewayPort()).isEqualTo(7000);
        assertThat(o.gatewayParallelism()).isEqualTo(3);
        assertThat(o.initialModelFromLearner()).isFalse();
        assertThat(o.scaling()).isEqualTo(FederationOptions.Scaling.BATCHES);
        assertThat(o.shardSize()).isEqualTo(2048);
        assertThat(o.trainEpochs()).isEqualTo(4);
        assertThat(o.evaluationBatchSize()).isEqualTo(99);
        assertThat(GatewayOptions.from(FederationConfig.of(Map.of())).initialModelFromLearner())
                .isTrue();
    }

    private static <T extends java.io.Serializable> T roundTrip(T options) throws Exception {
        return InstantiationUtil.clone(options);
    }
}
