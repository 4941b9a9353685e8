package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class StalenessTest {

    @Test
    void constantWeighsEveryUpdateOne() {
        for (long s : new long[] {0, 1, 10, Long.MAX_VALUE}) {
            assertThat(Staleness.constant().weight(s)).isEqualTo(1.0);
        }
    }

    @Test
    void polynomialIsSPlusOneToTheMinusA() {
        Staleness p = Staleness.polynomial(0.5);
        assertThat(p.weight(0)).isEqualTo(1.0);
        assertThat(p.weight(3)).isCloseTo(0.5, within(1e-12));
        assertThat(p.weight(8)).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(Staleness.polynomial(2).weight(9)).isCloseTo(0.01, within(1e-12));
        assertThat(Staleness.polynomial(0).weight(1000)).isEqualTo(1.0);
    }

    @Test
    void hingeIsOneUpToBThenDecaysHyperbolically() {
        Staleness h = Staleness.hinge(10, 4);
        assertThat(h.weight(0)).isEqualTo(1.0);
        assertThat(h.weight(4)).isEqualTo(1.0);
        assertThat(h.weight(5)).isCloseTo(1.0 / 11, within(1e-12));
        assertThat(h.weight(6)).isCloseTo(1.0 / 21, within(1e-12));
        assertThat(Staleness.hinge(0, 0).weight(100)).isEqualTo(1.0);
    }

    @Test
    void everyWeightIsInZeroToOneAndNeverGrowsWithStaleness() {
        List<Staleness> functions =
                List.of(
                        Staleness.constant(),
                        Staleness.polynomial(0.5),
                        Staleness.polynomial(3),
                        Staleness.hinge(10, 4),
                        Staleness.hinge(0.5, 0));
        for (Staleness function : functions) {
            double previous = 1;
            for (long s = 0; s <= 10_000; s++) {
                double w = function.weight(s);
                assertThat(w).as("%s at %d", function, s).isGreaterThan(0).isLessThanOrEqualTo(1);
                assertThat(w).as("%s at %d", function, s).isLessThanOrEqualTo(previous);
                previous = w;
            }
        }
    }

    @Test
    void rejectsNegativeStalenessAndParameters() {
        for (Staleness function :
                List.of(Staleness.constant(), Staleness.polynomial(1), Staleness.hinge(1, 2))) {
            assertThatThrownBy(() -> function.weight(-1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("staleness must be >= 0, was -1");
        }
        assertThatThrownBy(() -> Staleness.polynomial(-0.5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a must be finite and >= 0");
        assertThatThrownBy(() -> Staleness.polynomial(Double.NaN))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a must be finite and >= 0");
        assertThatThrownBy(() -> Staleness.hinge(-1, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a must be finite and >= 0");
        assertThatThrownBy(() -> Staleness.hinge(1, -2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("b must be >= 0");
    }

    @Test
    void survivesJavaSerializationAndSaysWhatItIs() throws Exception {
        Staleness h = KernelTestData.roundTrip(Staleness.hinge(10, 4));
        assertThat(h).hasToString("Staleness.hinge(a=10.0, b=4)");
        assertThat(h.weight(5)).isCloseTo(1.0 / 11, within(1e-12));
        assertThat(KernelTestData.roundTrip(Staleness.polynomial(0.5)))
                .hasToString("Staleness.polynomial(a=0.5)");
        assertThat(KernelTestData.roundTrip(Staleness.constant()))
                .hasToString("Staleness.constant()");
    }
}
