package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationOptions.ClipOn;
import org.metisfl.flink.config.FederationOptions.Clipping;
import org.metisfl.flink.config.FederationOptions.Scaling;

class PrivacyConfigTest {

    private static FederationConfig dp(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        m.put("privacy.mechanism", "central-dp");
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return FederationConfig.of(m);
    }

    @Test
    void readsThePrivacyGroupWithItsDefaults() {
        FederationConfig c =
                dp(
                        "privacy.noise-multiplier", "0.8",
                        "privacy.clip-norm", "2.5",
                        "privacy.clipping", "adaptive",
                        "privacy.target-quantile", "0.7",
                        "privacy.delta", "1e-6",
                        "privacy.clip-on", "learner");
        assertThat(c.centralDp()).isTrue();
        assertThat(c.noiseMultiplier()).isEqualTo(0.8);
        assertThat(c.clipNorm()).isEqualTo(2.5);
        assertThat(c.clipping()).isEqualTo(Clipping.ADAPTIVE);
        assertThat(c.targetQuantile()).isEqualTo(0.7);
        assertThat(c.privacyDelta()).isEqualTo(1e-6);
        assertThat(c.clipOn()).isEqualTo(ClipOn.LEARNER);
        assertThat(c.noiseSeed()).isEmpty();
        // equal weights by default under DP; the count noise defaults to max(m / 20, z)
        assertThat(c.scaling()).isEqualTo(Scaling.PARTICIPANTS);
        assertThat(c.clippedCountStddevOf(10)).isEqualTo(0.8);
        assertThat(c.clippedCountStddevOf(100)).isEqualTo(5.0);

        FederationConfig off = FederationConfig.of(Map.of());
        assertThat(off.centralDp()).isFalse();
        assertThat(off.scaling()).isEqualTo(Scaling.EXAMPLES);
    }

    @Test
    void refusesRobustRulesAndSaysWhy() {
        for (String rule :
                new String[] {"median", "trimmed-mean", "krum", "multi-krum", "bulyan"}) {
            assertThatThrownBy(() -> dp("aggregation.rule", rule))
                    .isInstanceOf(InvalidConfigException.class)
                    .hasMessageContaining("'aggregation.rule'")
                    .hasMessageContaining("central-dp wraps fedavg only")
                    .hasMessageContaining("not a sum whose sensitivity the clip norm bounds");
        }
        assertThatThrownBy(() -> dp("aggregation.rule", "fedstride"))
                .hasMessageContaining("fedstride computes the same mean");
    }

    @Test
    void refusesTheAsynchronousProtocolAndSaysWhy() {
        for (String rule : new String[] {"fedasync", "fedrec", "fedbuff"}) {
            assertThatThrownBy(() -> dp("protocol.type", "asynchronous", "async.rule", rule))
                    .isInstanceOf(InvalidConfigException.class)
                    .hasMessageContaining("'privacy.mechanism'")
                    .hasMessageContaining("no round sum exists to carry the noise");
        }
        assertThat(dp("protocol.type", "semi-synchronous").centralDp()).isTrue();
    }

    @Test
    void refusesWeightsOtherThanEqual() {
        assertThatThrownBy(() -> dp("aggregation.scaling", "examples"))
                .hasMessageContaining("'aggregation.scaling'")
                .hasMessageContaining("every update must weigh the same");
    }

    @Test
    void refusesValuesThatGiveNoPrivacyOrNoSense() {
        assertThatThrownBy(() -> dp("privacy.noise-multiplier", "0"))
                .hasMessageContaining("'privacy.noise-multiplier'")
                .hasMessageContaining("0 adds no noise");
        assertThatThrownBy(() -> dp("privacy.clip-norm", "-1"))
                .hasMessageContaining("'privacy.clip-norm'");
        assertThatThrownBy(() -> dp("privacy.delta", "1")).hasMessageContaining("'privacy.delta'");
        assertThatThrownBy(() -> dp("privacy.target-quantile", "1.0"))
                .hasMessageContaining("'privacy.target-quantile'");
        assertThatThrownBy(
                        () ->
                                dp(
                                        "privacy.noise-multiplier",
                                        "1.0",
                                        "privacy.clipped-count-stddev",
                                        "0.5"))
                .hasMessageContaining("'privacy.clipped-count-stddev'")
                .hasMessageContaining("must exceed privacy.noise-multiplier / 2 = 0.5");
        assertThatThrownBy(() -> dp("privacy.mechanism", "local-dp"))
                .hasMessageContaining("use one of [none, central-dp]");
    }

    @Test
    void privacyKeysAreInertWithoutTheMechanism() {
        FederationConfig c =
                FederationConfig.of(
                        Map.of("aggregation.rule", "median", "privacy.noise-multiplier", "0"));
        assertThat(c.centralDp()).isFalse();
    }
}
