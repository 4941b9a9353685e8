package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.metisfl.learner.task.NamedTensor;

class UpdateClippingTest {

    private static NamedTensor t(String name, float... values) {
        return new NamedTensor(name, new long[] {values.length}, values);
    }

    /** What the job will measure: the delta of the uploaded float32 weights, in double. */
    private static double deltaNorm(List<NamedTensor> global, List<NamedTensor> weights) {
        double sq = 0;
        for (int t = 0; t < global.size(); t++) {
            float[] g = global.get(t).values();
            float[] w = weights.get(t).values();
            for (int i = 0; i < g.length; i++) {
                double d = (double) w[i] - g[i];
                sq += d * d;
            }
        }
        return Math.sqrt(sq);
    }

    @Test
    void everyUploadedDeltaIsWithinTheClipNorm() {
        Random r = new Random(11);
        for (int trial = 0; trial < 1_000; trial++) {
            int n1 = 1 + r.nextInt(200);
            int n2 = 1 + r.nextInt(50);
            double scale = Math.pow(10, r.nextInt(7) - 3);
            double clip = Math.pow(10, r.nextInt(4) - 2);
            float[] g1 = new float[n1];
            float[] w1 = new float[n1];
            float[] g2 = new float[n2];
            float[] w2 = new float[n2];
            for (int i = 0; i < n1; i++) {
                g1[i] = (float) (r.nextGaussian() * 3);
                w1[i] = (float) (g1[i] + scale * r.nextGaussian());
            }
            for (int i = 0; i < n2; i++) {
                g2[i] = (float) r.nextGaussian();
                w2[i] = (float) (g2[i] + scale * r.nextGaussian());
            }
            List<NamedTensor> global = List.of(t("w", g1), t("b", g2));
            List<NamedTensor> trained = List.of(t("w", w1), t("b", w2));
            UpdateClipping.Result c = UpdateClipping.clip(global, trained, clip);
            double before = deltaNorm(global, trained);
            double after = deltaNorm(global, c.weights());
            assertThat(c.norm()).isCloseTo(before, within(1e-12 * before + 1e-300));
            assertThat(c.unclipped()).isEqualTo(before <= clip);
            // float32 weights round by up to half an ulp of the weight (not of the delta):
            // the job re-clips what is left; here the bound holds up to that rounding.
            double slack = 0;
            for (float v : g1) {
                slack += Math.pow(Math.ulp((float) (Math.abs(v) + 10 * clip)), 2);
            }
            for (float v : g2) {
                slack += Math.pow(Math.ulp((float) (Math.abs(v) + 10 * clip)), 2);
            }
            assertThat(after).as("trial %d", trial).isLessThanOrEqualTo(clip + Math.sqrt(slack));
            if (c.unclipped()) {
                assertThat(c.weights()).isSameAs(trained);
            } else {
                assertThat(c.weights().get(0).name()).isEqualTo("w");
                assertThat(c.weights().get(1).shape()).containsExactly(n2);
            }
        }
    }

    @Test
    void scalesTheDeltaAlongItsDirection() {
        List<NamedTensor> global = List.of(t("w", 1, 1), t("b", 2));
        List<NamedTensor> trained = List.of(t("w", 4, 5), t("b", 2)); // delta (3, 4, 0)
        UpdateClipping.Result c = UpdateClipping.clip(global, trained, 1);
        assertThat(c.unclipped()).isFalse();
        assertThat(c.norm()).isEqualTo(5.0);
        assertThat(c.weights().get(0).values()[0]).isCloseTo(1.6f, within(1e-6f));
        assertThat(c.weights().get(0).values()[1]).isCloseTo(1.8f, within(1e-6f));
        assertThat(c.weights().get(1).values()[0]).isEqualTo(2f);
    }

    @Test
    void refusesAModelOfAnotherShape() {
        assertThatThrownBy(
                        () ->
                                UpdateClipping.clip(
                                        List.of(t("w", 1)), List.of(t("w", 1), t("b", 1)), 1))
                .hasMessageContaining("the trained model has 2 tensors, the task's model 1");
        assertThatThrownBy(() -> UpdateClipping.clip(List.of(t("w", 1)), List.of(t("w", 1)), 0))
                .hasMessageContaining("clip norm must be finite and > 0");
    }
}
