package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StridedAverageTest {

    @Test
    void equalsTheWeightedSumMeanForEveryStride() {
        Random random = new Random(43);
        int n = 9;
        int length = 40;
        List<float[]> updates = KernelTestData.gaussians(random, n, length);
        double[] weights = random.doubles(n, 1, 100).toArray();
        double[] acc = new double[length];
        double total = 0;
        for (int k = 0; k < n; k++) {
            WeightedSum.addScaled(acc, updates.get(k), weights[k]);
            total += weights[k];
        }
        float[] fedAvg = WeightedSum.mean(acc, total);
        for (int stride = 1; stride <= n + 1; stride++) {
            StridedAverage strided = new StridedAverage(length, stride);
            for (int k = 0; k < n; k++) {
                strided.offer(updates.get(k), weights[k]);
            }
            assertThat(strided.average()).as("stride %d", stride).containsExactly(fedAvg);
        }
    }

    @Test
    void isNormalisedByTheTotalWeight() {
        StridedAverage identical = new StridedAverage(2, 2);
        identical.offer(new float[] {3f, -1f}, 5);
        identical.offer(new float[] {3f, -1f}, 7);
        identical.offer(new float[] {3f, -1f}, 0.25);
        assertThat(identical.average()).containsExactly(3f, -1f);

        StridedAverage weighted = new StridedAverage(1, 2);
        weighted.offer(new float[] {1f}, 1);
        weighted.offer(new float[] {4f}, 2);
        weighted.offer(new float[] {10f}, 1);
        assertThat(weighted.average()[0]).isCloseTo((1f + 8f + 10f) / 4, within(1e-6f));
    }

    @Test
    void neverBuffersAFullStride() {
        Random random = new Random(47);
        for (int stride = 1; stride <= 5; stride++) {
            StridedAverage strided = new StridedAverage(3, stride);
            for (int k = 1; k <= 12; k++) {
                strided.offer(KernelTestData.gaussian(random, 3), 1);
                assertThat(strided.buffered()).isEqualTo(k % stride).isLessThan(stride);
            }
            strided.average();
            assertThat(strided.buffered()).isZero();
        }
    }

    @Test
    void continuesTheSameAverageAfterReadingIt() {
        StridedAverage strided = new StridedAverage(1, 3);
        strided.offer(new float[] {2f}, 1);
        assertThat(strided.average()).containsExactly(2f);
        strided.offer(new float[] {4f}, 1);
        assertThat(strided.average()).containsExactly(3f);
    }

    @Test
    void holdsACopyOfEachBufferedUpdate() {
        StridedAverage strided = new StridedAverage(2, 4);
        float[] reused = {1f, 1f};
        strided.offer(reused, 1);
        reused[0] = 100f;
        strided.offer(new float[] {3f, 3f}, 1);
        assertThat(strided.average()).containsExactly(2f, 2f);
    }

    @Test
    void rejectsBadArgumentsAndAnEmptyAverage() {
        assertThatThrownBy(() -> new StridedAverage(-1, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("length must be >= 0");
        assertThatThrownBy(() -> new StridedAverage(3, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("strideLength must be >= 1, was 0");
        StridedAverage strided = new StridedAverage(3, 2);
        assertThatThrownBy(() -> strided.offer(new float[2], 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("values has 2 values, expected 3");
        assertThatThrownBy(() -> strided.offer(new float[3], Double.POSITIVE_INFINITY))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight must be finite and >= 0");
        assertThat(strided.buffered()).isZero();
        assertThatThrownBy(strided::average)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("total weight is 0.0");
    }
}
