package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Payload;

class FedAvgTest {

    private final FedAvg rule = new FedAvg();

    @Test
    void resultIsTheWeightedMeanComputedIndependently() {
        float[][] u = RuleTestData.updates(1, 5, 300);
        double[] w = {3, 1, 7, 2.5, 10};
        float[] got = rule.result(RuleTestData.addAll(rule, u, w)).values();
        double total = 3 + 1 + 7 + 2.5 + 10;
        for (int j = 0; j < 300; j++) {
            double s = 0;
            for (int i = 0; i < 5; i++) {
                s += w[i] * u[i][j];
            }
            assertThat((double) got[j]).isCloseTo(s / total, within(1e-6));
        }
    }

    @Test
    void mergingPartialSumsInAnyGroupingGivesTheSameMean() {
        float[][] u = RuleTestData.updates(2, 6, 50);
        double[] w = {1, 2, 3, 4, 5, 6};
        float[] whole = rule.result(RuleTestData.addAll(rule, u, w)).values();
        FedAvg.Sum a = rule.createAccumulator();
        FedAvg.Sum b = rule.createAccumulator();
        FedAvg.Sum c = rule.createAccumulator();
        for (int i = 0; i < 6; i++) {
            FedAvg.Sum target = i < 2 ? a : i < 5 ? b : c;
            rule.add(target, "l" + i, Payload.dense(u[i]), w[i]);
        }
        FedAvg.Sum left = rule.merge(rule.merge(copy(a), copy(b)), copy(c));
        FedAvg.Sum right = rule.merge(copy(a), rule.merge(copy(b), copy(c)));
        FedAvg.Sum withEmpty = rule.merge(rule.createAccumulator(), copy(left));
        assertThat(left.totalWeight()).isEqualTo(21);
        for (float[] merged :
                new float[][] {
                    rule.result(left).values(),
                    rule.result(right).values(),
                    rule.result(withEmpty).values()
                }) {
            for (int j = 0; j < 50; j++) {
                assertThat(merged[j]).isCloseTo(whole[j], within(1e-6f));
            }
        }
    }

    @Test
    void accumulatorSurvivesASavepointBitExactly() throws Exception {
        FedAvg.Sum acc =
                RuleTestData.addAll(rule, RuleTestData.updates(3, 3, 40), new double[] {1, 2, 3});
        FedAvg.Sum back = RuleTestData.throughSavepoint(rule.accumulatorSerializer(), acc);
        assertThat(back.sum).containsExactly(acc.sum);
        assertThat(back.totalWeight).isEqualTo(acc.totalWeight);
        FedAvg.Sum empty =
                RuleTestData.throughSavepoint(
                        rule.accumulatorSerializer(), rule.createAccumulator());
        assertThat(empty.sum).isNull();
    }

    @Test
    void refusesCiphertextWithAClearReason() {
        FedAvg.Sum acc = rule.createAccumulator();
        Payload c = Payload.ciphertext("ckks", "abc", 4, new byte[16]);
        assertThatThrownBy(() -> rule.add(acc, "a", c, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'fedavg' aggregates [DENSE] payloads only")
                .hasMessageContaining("ckks");
    }

    @Test
    void refusesAnUpdateOfAnotherSize() {
        FedAvg.Sum acc = rule.createAccumulator();
        rule.add(acc, "a", Payload.dense(new float[3]), 1);
        assertThatThrownBy(() -> rule.add(acc, "b", Payload.dense(new float[4]), 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4 values");
    }

    private FedAvg.Sum copy(FedAvg.Sum s) {
        return rule.accumulatorSerializer().copy(s);
    }
}
