package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Coefficients above 2^62 (scale 2^80 of the threshold preset) are converted to residues exactly,
 * as BigInteger arithmetic gives them; beyond Q/2 they are refused.
 */
class RnsBasisLargeCoefficientTest {

    private final RnsBasis basis = new RnsBasis(8192, new int[] {60, 60, 60});

    @Test
    void largeCoefficientsGetTheirExactResidues() {
        SplittableRandom r = new SplittableRandom(9);
        double[] coeffs = new double[8192];
        int[] err = new int[8192];
        for (int k = 0; k < coeffs.length; k++) {
            double mag = Math.scalb(1.0 + r.nextDouble(), 62 + r.nextInt(110));
            coeffs[k] = r.nextBoolean() ? mag : -mag;
            err[k] = r.nextInt(-40, 41);
        }
        long[] got = basis.toResidues(coeffs, err);
        for (int k = 0; k < coeffs.length; k++) {
            BigInteger c =
                    new BigDecimal(coeffs[k]).toBigIntegerExact().add(BigInteger.valueOf(err[k]));
            for (int i = 0; i < 3; i++) {
                assertThat(got[i * 8192 + k])
                        .isEqualTo(c.mod(BigInteger.valueOf(basis.primes[i])).longValue());
            }
        }
    }

    @Test
    void coefficientsBeyondHalfTheModulusAreRefused() {
        double[] coeffs = new double[8192];
        coeffs[3] = Math.scalb(1.0, 180);
        assertThatThrownBy(() -> basis.toResidues(coeffs, null))
                .hasMessageContaining("exceeds Q/2");
    }
}
