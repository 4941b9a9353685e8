package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RecencyAverageTest {
    private static final int LENGTH = 25;

    /** What the caller stores per learner: its last values and weight. */
    private record Contribution(float[] values, double weight) {}

    @Test
    void matchesAnAverageRecomputedFromScratchOverARandomSequence() {
        Random random = new Random(31);
        RecencyAverage average = new RecencyAverage(LENGTH);
        Map<Integer, Contribution> latest = new HashMap<>();
        for (int step = 0; step < 2000; step++) {
            int learner = random.nextInt(8);
            Contribution previous = latest.get(learner);
            Contribution next =
                    new Contribution(
                            KernelTestData.gaussian(random, LENGTH), 0.1 + random.nextDouble());
            if (previous == null) {
                average.add(next.values(), next.weight());
                latest.put(learner, next);
            } else if (random.nextInt(4) == 0) {
                average.remove(previous.values(), previous.weight());
                latest.remove(learner);
            } else {
                average.replace(previous.values(), previous.weight(), next.values(), next.weight());
                latest.put(learner, next);
            }
            if (!latest.isEmpty()) {
                assertMatchesScratch(average, latest);
            }
        }
    }

    @Test
    void theAverageOfIdenticalUpdatesIsThatUpdate() {
        float[] u = {0.25f, -7f, 3.5f};
        RecencyAverage average = new RecencyAverage(3);
        average.add(u, 10);
        average.add(u, 3);
        average.add(u, 0.5);
        assertThat(average.average()).containsExactly(u);
        average.replace(u, 10, u, 1000);
        assertThat(average.average()).containsExactly(u);
        assertThat(average.totalWeight()).isEqualTo(1003.5);
    }

    @Test
    void replacingDropsTheLearnersOlderContribution() {
        RecencyAverage average = new RecencyAverage(1);
        average.add(new float[] {1f}, 1);
        average.add(new float[] {3f}, 1);
        average.replace(new float[] {1f}, 1, new float[] {5f}, 3);
        // (3 * 1 + 5 * 3) / 4
        assertThat(average.average()).containsExactly(4.5f);
        average.remove(new float[] {3f}, 1);
        assertThat(average.average()).containsExactly(5f);
    }

    @Test
    void restoresFromItsSnapshotAndContinuesIdentically() {
        Random random = new Random(37);
        RecencyAverage average = new RecencyAverage(LENGTH);
        float[] a = KernelTestData.gaussian(random, LENGTH);
        average.add(a, 2);
        average.add(KernelTestData.gaussian(random, LENGTH), 3);
        RecencyAverage restored =
                RecencyAverage.restore(average.numerator(), average.totalWeight());
        assertThat(restored.numerator()).containsExactly(average.numerator());
        assertThat(restored.totalWeight()).isEqualTo(average.totalWeight());
        assertThat(restored.average()).containsExactly(average.average());

        float[] b = KernelTestData.gaussian(random, LENGTH);
        average.replace(a, 2, b, 4);
        restored.replace(a, 2, b, 4);
        assertThat(restored.average()).containsExactly(average.average());
    }

    @Test
    void snapshotsAreCopies() {
        RecencyAverage average = new RecencyAverage(2);
        average.add(new float[] {1f, 2f}, 1);
        double[] snapshot = average.numerator();
        snapshot[0] = 99;
        assertThat(average.numerator()).containsExactly(1, 2);
        RecencyAverage restored = RecencyAverage.restore(snapshot, 1);
        snapshot[1] = 99;
        assertThat(restored.numerator()).containsExactly(99, 2);
    }

    @Test
    void refusesToAverageWithoutWeight() {
        RecencyAverage average = new RecencyAverage(2);
        assertThatThrownBy(average::average)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("total weight is 0.0");
        average.add(new float[] {1f, 2f}, 4);
        average.remove(new float[] {1f, 2f}, 4);
        assertThatThrownBy(average::average).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rejectsBadArgumentsWithoutChangingState() {
        assertThatThrownBy(() -> new RecencyAverage(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("length must be >= 0");
        RecencyAverage average = new RecencyAverage(2);
        average.add(new float[] {1f, 2f}, 1);
        assertThatThrownBy(() -> average.replace(new float[2], 1, new float[3], 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("values has 3 values, expected 2");
        assertThatThrownBy(() -> average.add(new float[2], -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight must be finite and >= 0");
        assertThatThrownBy(() -> average.remove(new float[2], Double.NaN))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("previousWeight must be finite and >= 0");
        assertThatThrownBy(() -> RecencyAverage.restore(new double[2], -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("totalWeight must be finite and >= 0");
        assertThat(average.average()).containsExactly(1f, 2f);
        assertThat(average.totalWeight()).isEqualTo(1);
    }

    private static void assertMatchesScratch(
            RecencyAverage average, Map<Integer, Contribution> latest) {
        double total = 0;
        double[] sum = new double[LENGTH];
        for (Contribution c : latest.values()) {
            total += c.weight();
            for (int i = 0; i < LENGTH; i++) {
                sum[i] += c.weight() * c.values()[i];
            }
        }
        float[] actual = average.average();
        assertThat(average.totalWeight()).isCloseTo(total, within(1e-9));
        for (int i = 0; i < LENGTH; i++) {
            assertThat(actual[i]).isCloseTo((float) (sum[i] / total), within(1e-6f));
        }
    }
}
