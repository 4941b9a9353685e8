package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.kernel.JavaRnsKernels;

/**
 * The noise of fresh ciphertexts against its analysis: with ternary s and v and Gaussian errors (σ
 * = 3.19), c0 + c1·s - Δm is e·v + e0 + e1·s for a public-key encryption (variance about σ²(4n/3 +
 * 1) per coefficient) and e for a secret-key encryption (variance σ²).
 */
class DecryptionErrorTest {

    private final JavaCkksContext he =
            JavaCkksBackend.create(
                    CkksParameters.preset("n13-q120"),
                    JavaRnsKernels.INSTANCE,
                    RandomSource.insecureDeterministic(11));
    private final KeyPair keys = he.generateKeys();
    private final int n = he.valuesPerCiphertext();

    private double[] errors(boolean publicKey) {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        CkksCiphertext ct =
                (CkksCiphertext)
                        (publicKey
                                ? he.encrypt(keys.publicKey(), x, 0, n)
                                : he.encrypt(keys.secretKey(), x, 0, n));
        double[] dec =
                he.basis.toCenteredDoubles(he.rawDecrypt((CkksSecretKey) keys.secretKey(), ct));
        double[] m = he.encoder.encode(x, 0, n, Math.scalb(1.0, he.params.scaleBits()));
        double[] err = new double[n];
        for (int k = 0; k < n; k++) {
            err[k] = dec[k] - Math.rint(m[k]);
        }
        return err;
    }

    private static double std(double[] e) {
        double s = 0;
        for (double v : e) {
            s += v * v;
        }
        return Math.sqrt(s / e.length);
    }

    private static double max(double[] e) {
        double m = 0;
        for (double v : e) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @Test
    void publicKeyEncryptionNoiseMatchesItsVarianceAndStaysWithinSevenSigma() {
        double sigma = Samplers.SIGMA;
        double predicted = sigma * Math.sqrt(4.0 * n / 3 + 1); // ~ 333 for n = 8192
        double[] err = errors(true);
        assertThat(std(err)).isCloseTo(predicted, within(0.1 * predicted));
        assertThat(max(err)).isLessThan(7 * predicted);
    }

    @Test
    void secretKeyEncryptionNoiseIsTheGaussianItself() {
        double[] err = errors(false);
        assertThat(std(err)).isCloseTo(Samplers.SIGMA, within(0.05 * Samplers.SIGMA));
        assertThat(max(err)).isLessThanOrEqualTo(Samplers.CDT.length);
        for (double e : err) {
            assertThat(e).isEqualTo(Math.rint(e)); // exact integers
        }
    }

    @Test
    void decryptedValuesAreWithinTheNoiseBoundOfTheScale() {
        // slot error <= coefficient noise * sqrt(n) * (a few) / scale: ~ 333 * 90 * 7 / 2^45 < 7e-9
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 10);
        }
        double[] dec = he.decrypt(keys.secretKey(), he.encrypt(keys.publicKey(), x, 0, n));
        double bound =
                7
                        * Samplers.SIGMA
                        * Math.sqrt(4.0 * n / 3 + 1)
                        * Math.sqrt(n)
                        / Math.scalb(1.0, he.params.scaleBits());
        for (int i = 0; i < n; i++) {
            assertThat(dec[i]).isCloseTo(x[i], within(bound));
        }
    }
}
