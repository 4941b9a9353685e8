package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.Scaling;

class RulesTest {

    @Test
    void everyConfiguredRuleNameHasAClass() {
        assertThat(Rules.complete()).isTrue();
        assertThat(Rules.of(FederationConfig.of(Map.of()))).isInstanceOf(FedAvg.class);
        assertThat(Rules.of(FederationConfig.of(Map.of("aggregation.rule", "multi-krum"))).name())
                .isEqualTo("multi-krum");
        assertThat(
                        Rules.of(FederationConfig.of(Map.of("aggregation.rule", "trimmed-mean")))
                                .buffersUpdates())
                .isTrue();
    }

    @Test
    void scalingWeighsByExamplesBatchesOrOnePerParticipant() {
        assertThat(ContributionWeights.of(Scaling.EXAMPLES, 640, 10)).isEqualTo(640);
        assertThat(ContributionWeights.of(Scaling.BATCHES, 640, 10)).isEqualTo(10);
        assertThat(ContributionWeights.of(Scaling.PARTICIPANTS, 640, 10)).isEqualTo(1);
    }
}
