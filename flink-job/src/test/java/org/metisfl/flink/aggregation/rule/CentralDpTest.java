package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.AggregationRule.RoundContext;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.RuleOptions;
import org.metisfl.flink.model.Payload;

class CentralDpTest {

    private static AggregationRule<Object> rule(String... keyValues) {
        Map<String, String> m = new java.util.HashMap<>();
        m.put("privacy.mechanism", "central-dp");
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        @SuppressWarnings("unchecked")
        AggregationRule<Object> r =
                (AggregationRule<Object>) Rules.of(RuleOptions.of(FederationConfig.of(m)));
        return r;
    }

    @Test
    void theRegistryWrapsFedAvgWhenCentralDpIsConfigured() {
        assertThat(rule().name()).isEqualTo("central-dp(fedavg)");
        assertThat(rule().resultIsDelta()).isTrue();
        assertThat(Rules.of(FederationConfig.of(Map.of())).name()).isEqualTo("fedavg");
        assertThat(Rules.of(FederationConfig.of(Map.of())).resultIsDelta()).isFalse();
    }

    /**
     * Deltas summed with weight 1 whatever weight they come with, divided by the expected
     * contributions (not the actual ones): with negligible noise, (d1 + d2) / 4.
     */
    @Test
    void sumsWithEqualWeightsAndDividesByTheExpectedContributions() {
        AggregationRule<Object> dp =
                rule("privacy.noise-multiplier", "1e-9", "privacy.noise-seed", "1");
        Object acc = dp.createAccumulator();
        dp.add(acc, "a", Payload.dense(new float[] {1f, 2f}), 100);
        dp.add(acc, "b", Payload.dense(new float[] {3f, -2f}), 7);
        float[] out = dp.result(acc, new RoundContext(1, 0, 4, 1.0)).values();
        assertThat(out[0]).isCloseTo(1.0f, within(1e-6f));
        assertThat(out[1]).isCloseTo(0.0f, within(1e-6f));
        assertThatThrownBy(() -> dp.result(acc)).hasMessageContaining("needs the round");
    }

    /**
     * The noise on the released mean has standard deviation z C / m: over 50,000 zero deltas the
     * sample deviation of the result must be within 5 standard errors (1/sqrt(2n) = 0.32%) of it;
     * the round's clip norm from its plan wins over the configured one.
     */
    @Test
    void addsNoiseOfZTimesTheRoundsClipNormToTheSum() {
        int n = 50_000;
        AggregationRule<Object> dp =
                rule(
                        "privacy.noise-multiplier", "0.8",
                        "privacy.clip-norm", "1.0",
                        "privacy.noise-seed", "11");
        Object acc = dp.createAccumulator();
        dp.add(acc, "a", Payload.dense(new float[n]), 1);
        float[] out = dp.result(acc, new RoundContext(3, 2, 5, 2.5)).values();
        double sq = 0;
        for (float v : out) {
            sq += (double) v * v;
        }
        double expected = 0.8 * 2.5 / 5;
        assertThat(Math.sqrt(sq / n))
                .isCloseTo(expected, within(5 * expected / Math.sqrt(2.0 * n)));
        // the seed is for tests: the same round and shard draw the same noise, others not
        Object again = dp.createAccumulator();
        dp.add(again, "a", Payload.dense(new float[n]), 1);
        assertThat(dp.result(again, new RoundContext(3, 2, 5, 2.5)).values()).isEqualTo(out);
        assertThat(dp.result(again, new RoundContext(3, 1, 5, 2.5)).values()).isNotEqualTo(out);
    }

    /**
     * Without a test seed: noise of the configured scale from the secret-keyed generator; a round
     * restored from its checkpointed accumulator (a failover) releases exactly the same values,
     * another round different ones.
     */
    @Test
    void secretNoiseHasTheScaleAndARestoredRoundReleasesTheSameNoise() throws Exception {
        int n = 50_000;
        AggregationRule<Object> dp =
                rule("privacy.noise-multiplier", "1.2", "privacy.clip-norm", "0.5");
        Object acc = dp.createAccumulator();
        dp.add(acc, "a", Payload.dense(new float[n]), 1);
        DataOutputSerializer out = new DataOutputSerializer(n * 8 + 64);
        dp.accumulatorSerializer().serialize(acc, out);
        RoundContext round = new RoundContext(2, 0, 3, 0.5);
        float[] first = dp.result(acc, round).values();
        double sq = 0;
        for (float v : first) {
            sq += (double) v * v;
        }
        double expected = 1.2 * 0.5 / 3;
        assertThat(Math.sqrt(sq / n))
                .isCloseTo(expected, within(5 * expected / Math.sqrt(2.0 * n)));
        Object restored =
                dp.accumulatorSerializer()
                        .deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(dp.result(restored, round).values()).isEqualTo(first);
        Object other = dp.createAccumulator();
        dp.add(other, "a", Payload.dense(new float[n]), 1);
        assertThat(dp.result(other, round).values()).isNotEqualTo(first);
    }

    @Test
    void mergesAndSerializesItsCount() throws Exception {
        AggregationRule<Object> dp = rule("privacy.noise-seed", "1");
        Object a = dp.createAccumulator();
        Object b = dp.createAccumulator();
        dp.add(a, "a", Payload.dense(new float[] {1f}), 1);
        dp.add(b, "b", Payload.dense(new float[] {2f}), 1);
        dp.add(b, "c", Payload.dense(new float[] {3f}), 1);
        @SuppressWarnings("unchecked")
        WrappingRule.Wrapped<CentralDp.Count, FedAvg.Sum> merged =
                (WrappingRule.Wrapped<CentralDp.Count, FedAvg.Sum>) dp.merge(a, b);
        assertThat(merged.state().contributions()).isEqualTo(3);
        assertThat(merged.inner().totalWeight()).isEqualTo(3.0);
        DataOutputSerializer out = new DataOutputSerializer(64);
        dp.accumulatorSerializer().serialize(merged, out);
        @SuppressWarnings("unchecked")
        WrappingRule.Wrapped<CentralDp.Count, FedAvg.Sum> back =
                (WrappingRule.Wrapped<CentralDp.Count, FedAvg.Sum>)
                        dp.accumulatorSerializer()
                                .deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(back.state().contributions()).isEqualTo(3);
        assertThat(back.inner().totalWeight()).isEqualTo(3.0);
    }

    @Test
    void wrapsNothingButFedAvg() {
        assertThatThrownBy(
                        () ->
                                CentralDp.wrapIfConfigured(
                                        RuleOptions.of(
                                                FederationConfig.of(
                                                        Map.of("privacy.mechanism", "central-dp"))),
                                        new Median()))
                .hasMessageContaining("central-dp wraps fedavg only, not median");
    }
}
