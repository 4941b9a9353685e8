package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

/** What the secure-aggregation tests compare a decrypted global model with, computed apart. */
final class DecryptedModels {
    /**
     * The documented tolerance (secure-aggregation.md, the crypto README): a decrypted model is the
     * weighted mean rounded to float32, within 1e-6 relative to the largest magnitude.
     */
    static final double TOLERANCE = 1e-6;

    private DecryptedModels() {}

    /** Plaintext FedAvg, in double, independently of the job. */
    static float[] fedAvg(List<float[]> updates, List<Long> weights) {
        int n = updates.get(0).length;
        double[] sum = new double[n];
        double total = 0;
        for (int k = 0; k < updates.size(); k++) {
            for (int i = 0; i < n; i++) {
                sum[i] += weights.get(k) * (double) updates.get(k)[i];
            }
            total += weights.get(k);
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (sum[i] / total);
        }
        return out;
    }

    /** {@code actual} equals {@code expected} within {@link #TOLERANCE} × {@code scale}. */
    static void assertClose(float[] actual, float[] expected, double scale) {
        assertThat(actual).hasSize(expected.length);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("largest error").isLessThanOrEqualTo(TOLERANCE * scale);
    }
}
