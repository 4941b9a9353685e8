package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;
import org.metisfl.flink.config.FederationOptions.Scaling;
import org.metisfl.flink.config.RuleOptions;

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
    void everyShippedFederationFileBuildsItsRule() throws Exception {
        try (var files = Files.list(Path.of("../conf/federations"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
                FederationConfig c = FederationConfigLoader.load(f, Map.of());
                Object rule = c.asynchronous() ? Rules.async(RuleOptions.of(c)) : Rules.of(c);
                assertThat(rule).as(f.toString()).isNotNull();
            }
        }
        FederationConfig bulyan =
                FederationConfigLoader.load(Path.of("../conf/federations/bulyan.yaml"), Map.of());
        assertThat(Rules.of(bulyan)).isInstanceOf(Bulyan.class);
    }

    @Test
    void scalingWeighsByExamplesBatchesOrOnePerParticipant() {
        assertThat(ContributionWeights.of(Scaling.EXAMPLES, 640, 10)).isEqualTo(640);
        assertThat(ContributionWeights.of(Scaling.BATCHES, 640, 10)).isEqualTo(10);
        assertThat(ContributionWeights.of(Scaling.PARTICIPANTS, 640, 10)).isEqualTo(1);
    }
}
