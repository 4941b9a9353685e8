package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CkksEncoderTest {

    @ParameterizedTest
    @ValueSource(ints = {8, 64, 512})
    void specialFftEvaluatesAtTheRootsZetaToTheFiveToTheJ(int n) {
        CkksEncoder enc = new CkksEncoder(n);
        int slots = n / 2;
        SplittableRandom r = new SplittableRandom(n);
        double[] re = new double[slots];
        double[] im = new double[slots];
        for (int k = 0; k < slots; k++) {
            re[k] = r.nextDouble() * 2 - 1;
            im[k] = r.nextDouble() * 2 - 1;
        }
        double[] fr = re.clone();
        double[] fi = im.clone();
        enc.specialFft(fr, fi);
        long fivePow = 1;
        for (int j = 0; j < slots; j++) {
            // z_j = sum_k u_k * exp(i pi 5^j k / n), computed directly
            double zr = 0;
            double zi = 0;
            for (int k = 0; k < slots; k++) {
                double angle = Math.PI * ((fivePow * k) % (2L * n)) / n;
                zr += re[k] * Math.cos(angle) - im[k] * Math.sin(angle);
                zi += re[k] * Math.sin(angle) + im[k] * Math.cos(angle);
            }
            assertThat(fr[j]).as("re z_%d", j).isCloseTo(zr, within(1e-9));
            assertThat(fi[j]).as("im z_%d", j).isCloseTo(zi, within(1e-9));
            fivePow = fivePow * 5 % (2L * n);
        }
        enc.inverseSpecialFft(fr, fi);
        for (int k = 0; k < slots; k++) {
            assertThat(fr[k]).isCloseTo(re[k], within(1e-12));
            assertThat(fi[k]).isCloseTo(im[k], within(1e-12));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 8192})
    void encodedPolynomialTakesTheValuesAtTheRootsAndRoundTrips(int n) {
        CkksEncoder enc = new CkksEncoder(n);
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[n - 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 200 - 100);
        }
        double scale = 0x1p40;
        double[] coeffs = enc.encode(x, 0, x.length, scale);
        // rounded as in encryption
        for (int k = 0; k < n; k++) {
            coeffs[k] = Math.rint(coeffs[k]);
        }
        if (n == 16) {
            // m(zeta^(5^j)) = scale * (x_j + i x_(j + n/2)), evaluated directly
            long fivePow = 1;
            for (int j = 0; j < n / 2; j++) {
                double mr = 0;
                double mi = 0;
                for (int k = 0; k < n; k++) {
                    double angle = Math.PI * ((fivePow * k) % (2L * n)) / n;
                    mr += coeffs[k] * Math.cos(angle);
                    mi += coeffs[k] * Math.sin(angle);
                }
                double xr = j < x.length ? x[j] : 0;
                double xi = j + n / 2 < x.length ? x[j + n / 2] : 0;
                assertThat(mr / scale).isCloseTo(xr, within(1e-9));
                assertThat(mi / scale).isCloseTo(xi, within(1e-9));
                fivePow = fivePow * 5 % (2L * n);
            }
        }
        double[] back = enc.decode(coeffs, scale, x.length);
        assertThat(back).hasSize(x.length);
        for (int i = 0; i < x.length; i++) {
            assertThat(back[i]).isCloseTo(x[i], within(1e-8));
        }
    }
}
