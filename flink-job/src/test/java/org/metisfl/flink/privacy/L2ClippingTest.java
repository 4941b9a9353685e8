package org.metisfl.flink.privacy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class L2ClippingTest {

    /** The bound holds for every update, whatever its scale, shard layout or length. */
    @Test
    void noClippedUpdateIsLongerThanTheClipNorm() {
        Random random = new Random(7);
        for (int trial = 0; trial < 2_000; trial++) {
            int shards = 1 + random.nextInt(4);
            double scale = Math.pow(10, random.nextInt(9) - 4); // 1e-4 .. 1e4
            double clip = Math.pow(10, random.nextInt(5) - 2); // 0.01 .. 100
            float[][] update = new float[shards][];
            float[][] global = new float[shards][];
            for (int s = 0; s < shards; s++) {
                int n = 1 + random.nextInt(300);
                update[s] = new float[n];
                global[s] = new float[n];
                for (int i = 0; i < n; i++) {
                    global[s][i] = (float) random.nextGaussian();
                    update[s][i] = (float) (global[s][i] + scale * random.nextGaussian());
                }
            }
            L2Clipping.Clipped c = L2Clipping.clipDeltas(update, global, clip);
            // the norm of what is actually summed: float32 values, measured in double
            double norm = Math.sqrt(L2Clipping.deltaSquaredNorm(c.deltas(), null));
            assertThat(norm).as("trial %d", trial).isLessThanOrEqualTo(clip);
            assertThat(c.unclipped()).isEqualTo(c.norm() <= clip);
            if (!c.unclipped()) {
                // clipped to the bound, not far below it
                assertThat(norm).isCloseTo(clip, within(1e-5 * clip));
            }
        }
    }

    @Test
    void leavesAShortUpdateAsItsDeltaAndScalesALongOneAlongItsDirection() {
        float[][] global = {{1, 1}, {1}};
        float[][] update = {{4, 5}, {1}}; // delta (3, 4, 0), norm 5
        L2Clipping.Clipped loose = L2Clipping.clipDeltas(update, global, 10);
        assertThat(loose.unclipped()).isTrue();
        assertThat(loose.norm()).isEqualTo(5.0);
        assertThat(loose.deltas()[0]).containsExactly(3f, 4f);
        assertThat(loose.deltas()[1]).containsExactly(0f);

        L2Clipping.Clipped tight = L2Clipping.clipDeltas(update, global, 1);
        assertThat(tight.unclipped()).isFalse();
        assertThat(tight.deltas()[0][0]).isCloseTo(0.6f, within(1e-6f));
        assertThat(tight.deltas()[0][1]).isCloseTo(0.8f, within(1e-6f));
    }

    @Test
    void refusesABadClipNormAndMismatchedShapes() {
        assertThatThrownBy(() -> L2Clipping.factor(1, 0))
                .hasMessageContaining("clip norm must be finite and > 0");
        assertThatThrownBy(
                        () ->
                                L2Clipping.deltaSquaredNorm(
                                        new float[][] {{1, 2}}, new float[][] {{1}}))
                .hasMessageContaining("shard 0 of the update has 2 values");
        assertThatThrownBy(() -> L2Clipping.deltaSquaredNorm(new float[][] {{1}}, new float[0][]))
                .hasMessageContaining("update has 1 shards, the global model 0");
    }
}
