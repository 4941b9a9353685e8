package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ThresholdConfigTest {

    private static FederationConfig threshold(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        m.put("secure-aggregation", "ckks-threshold");
        m.put("federation.min-learners", "5");
        m.put("federation.initial-model", "first-learner");
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return FederationConfig.of(m);
    }

    @Test
    void readsTheCommitteeWithNOutOfNAndTheThresholdPresetByDefault() {
        FederationConfig c = threshold("secure-aggregation.committee.size", "4");
        assertThat(c.threshold()).isTrue();
        assertThat(c.hePreset()).isEqualTo("n13-q180-t");
        assertThat(c.committeeSize()).isEqualTo(4);
        assertThat(c.committeeThreshold()).isEqualTo(4);
        assertThat(c.decryptionTimeoutMs()).isEqualTo(60_000);
        ThresholdOptions g = GatewayOptions.from(c).threshold();
        assertThat(g).isEqualTo(new ThresholdOptions("metisfl-ckks", "n13-q180-t", 4, 4, 60_000));
        assertThat(g.shamir()).isFalse();
        assertThat(GatewayOptions.from(c).encrypted()).isTrue();
        assertThat(CoordinatorOptions.from(c).threshold()).isEqualTo(g);
        // the global model is plaintext in threshold mode: the coordinator encrypts nothing
        assertThat(CoordinatorOptions.from(c).encrypted()).isFalse();
    }

    @Test
    void readsATOutOfNCommitteeAndItsDecryptionTimeout() {
        FederationConfig c =
                threshold(
                        "secure-aggregation.committee.size", "3",
                        "secure-aggregation.committee.threshold", "2",
                        "secure-aggregation.committee.decryption-timeout", "15 s");
        assertThat(c.committeeThreshold()).isEqualTo(2);
        assertThat(c.decryptionTimeoutMs()).isEqualTo(15_000);
        assertThat(CoordinatorOptions.from(c).threshold().shamir()).isTrue();
    }

    @Test
    void refusesACommitteeLargerThanTheMinimumOfLearners() {
        assertThatThrownBy(() -> threshold("secure-aggregation.committee.size", "6"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("secure-aggregation.committee.size")
                .hasMessageContaining("federation.min-learners (5)");
        assertThatThrownBy(() -> threshold("secure-aggregation.committee.size", "0"))
                .hasMessageContaining("secure-aggregation.committee.size");
    }

    @Test
    void refusesAThresholdAboveTheCommitteeOrBelowOne() {
        assertThatThrownBy(
                        () ->
                                threshold(
                                        "secure-aggregation.committee.size", "3",
                                        "secure-aggregation.committee.threshold", "4"))
                .hasMessageContaining("secure-aggregation.committee.threshold")
                .hasMessageContaining("use 1 to 3");
        assertThatThrownBy(() -> threshold("secure-aggregation.committee.threshold", "0"))
                .hasMessageContaining("secure-aggregation.committee.threshold");
    }

    @Test
    void refusesAnotherPresetAPublicKeyAndTheAsynchronousProtocol() {
        assertThatThrownBy(() -> threshold("secure-aggregation.preset", "n13-q120"))
                .hasMessageContaining("secure-aggregation.preset")
                .hasMessageContaining("n13-q180-t");
        assertThatThrownBy(
                        () ->
                                threshold(
                                        "secure-aggregation.public-key",
                                        "keys/ckks-public.properties"))
                .hasMessageContaining("secure-aggregation.public-key")
                .hasMessageContaining("committee");
        assertThatThrownBy(
                        () ->
                                threshold(
                                        "protocol.type", "asynchronous",
                                        "async.rule", "fedbuff"))
                .hasMessageContaining("protocol.type")
                .hasMessageContaining("rounds");
        assertThatThrownBy(
                        () -> threshold("secure-aggregation.committee.decryption-timeout", "0 s"))
                .hasMessageContaining("secure-aggregation.committee.decryption-timeout");
    }

    @Test
    void refusesWhatTheSharedKeyModeRefuses() {
        assertThatThrownBy(() -> threshold("aggregation.rule", "median"))
                .hasMessageContaining("aggregation.rule");
        assertThatThrownBy(() -> threshold("optimizer.type", "fedadam"))
                .hasMessageContaining("optimizer.type");
        assertThatThrownBy(() -> threshold("privacy.mechanism", "central-dp"))
                .hasMessageContaining("privacy.mechanism");
        assertThatThrownBy(() -> threshold("aggregation.shard-size", "1000"))
                .hasMessageContaining("aggregation.shard-size");
    }
}
