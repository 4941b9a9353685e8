package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksPartialDecryption;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksSecretKeyShare;
import org.metisfl.crypto.kernel.JavaRnsKernels;

/**
 * n-out-of-n threshold CKKS with the threshold preset: aggregation under a joint key decrypts from
 * all members' partial decryptions within the documented tolerance; one missing partial decryption,
 * or one share alone, leaves residues indistinguishable from uniform (χ², mean and variance); the
 * smudging noise has the stated width. Fixed seeds make the statistics reproducible; the thresholds
 * are ~4σ (or the 99.9% quantile), so a correct implementation passes with any seed almost always,
 * and a broken one (no smudging, a key share that decrypts) fails.
 */
class ThresholdCkksTest {

    /** χ² with 15 degrees of freedom: the 99.9% quantile. */
    private static final double CHI2_15_999 = 37.70;

    private final JavaCkksContext he =
            JavaCkksBackend.create(
                    CkksParameters.preset(CkksParameters.THRESHOLD_PRESET),
                    JavaRnsKernels.INSTANCE,
                    RandomSource.insecureDeterministic(20261206));
    private final JavaCkksThreshold th = (JavaCkksThreshold) he.threshold().orElseThrow();
    private final int n = he.valuesPerCiphertext();

    private List<KeyShare> members(int count) {
        byte[] seed = th.newCommonSeed();
        List<KeyShare> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(th.generateKeyShare(seed));
        }
        return out;
    }

    private Committee committee(List<KeyShare> members) {
        List<PublicKeyShare> pub = new ArrayList<>();
        for (KeyShare k : members) {
            pub.add(k.publicShare());
        }
        return th.combineKeyShares(pub);
    }

    private static float[] vector(SplittableRandom r, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return x;
    }

    @ParameterizedTest(name = "{0} members")
    @ValueSource(ints = {3, 5})
    void weightedSumUnderJointKeyDecryptsFromAllPartialDecryptionsWithinTolerance(int count) {
        List<KeyShare> members = members(count);
        Committee c = committee(members);
        SplittableRandom r = new SplittableRandom(count);
        int vectors = 40;
        int len = n + 100; // two ciphertexts each
        double[] exact = new double[len];
        CiphertextSum[] sums = {he.newSum(), he.newSum()};
        double weightSum = 0;
        for (int v = 0; v < vectors; v++) {
            float[] x = vector(r, len);
            double w = 0.1 + r.nextDouble() * 9.9;
            weightSum += w;
            List<Ciphertext> cts = he.encrypt(c.jointKey(), x);
            assertThat(cts).hasSize(2);
            for (int k = 0; k < 2; k++) {
                sums[k].add(cts.get(k), w);
            }
            for (int i = 0; i < len; i++) {
                exact[i] += w * x[i];
            }
        }
        double[] got = new double[len];
        int pos = 0;
        for (CiphertextSum s : sums) {
            Ciphertext sum = s.result();
            List<PartialDecryption> parts = new ArrayList<>();
            for (KeyShare m : members) {
                parts.add(th.partialDecrypt(m.secretShare(), sum, weightSum));
            }
            double[] part = th.combine(c, sum, parts);
            System.arraycopy(part, 0, got, pos, part.length);
            pos += part.length;
        }
        // predicted error per value of the sum: 2^-29 · W · sqrt(N) (crypto README)
        double predicted = Math.scalb(1.0, -29) * weightSum * Math.sqrt(count);
        double maxErr = 0;
        double maxExact = 0;
        double sq = 0;
        for (int i = 0; i < len; i++) {
            double e = got[i] - exact[i];
            maxErr = Math.max(maxErr, Math.abs(e));
            maxExact = Math.max(maxExact, Math.abs(exact[i]));
            sq += e * e;
        }
        double std = Math.sqrt(sq / len);
        assertThat(maxErr / maxExact).as("relative error, infinity norm").isLessThan(1e-6);
        assertThat(maxErr).isLessThan(6 * predicted);
        // the smudging is really there: the error has the predicted width, not less
        assertThat(std).isBetween(0.9 * predicted, 1.1 * predicted);
    }

    @Test
    void missingOnePartialDecryptionIsRefusedAndItsSumIsUniformGarbage() {
        List<KeyShare> members = members(3);
        Committee c = committee(members);
        float[] x = vector(new SplittableRandom(5), n);
        CkksCiphertext ct = (CkksCiphertext) he.encrypt(c.jointKey(), x, 0, n);
        List<PartialDecryption> parts = new ArrayList<>();
        for (KeyShare m : members) {
            parts.add(th.partialDecrypt(m.secretShare(), ct, 1));
        }
        assertThatThrownBy(() -> th.combine(c, ct, parts.subList(0, 2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 of 3 missing")
                .hasMessageContaining(
                        java.util.HexFormat.of().formatHex(members.get(2).publicShare().shareId()));

        // all three: residues are a small centered polynomial, far from uniform (the test can fail)
        // (as integers modulo Q: residues modulo one 60-bit prime of values near 2^80 look uniform)
        long[] full = th.combineRaw(ct, List.of(d(parts, 0), d(parts, 1), d(parts, 2)));
        assertThat(chiSquare(topBitsModQ(full))).isGreaterThan(1000);

        // two of three: c0 + c1·(s - s_3) + noise, uniform residues under RLWE
        long[] two = th.combineRaw(ct, List.of(d(parts, 0), d(parts, 1)));
        for (int i = 0; i < he.primeCount; i++) {
            long[] prime = java.util.Arrays.copyOfRange(two, i * n, (i + 1) * n);
            assertThat(chiSquareTopBits(prime, he.basis.primes[i]))
                    .as("chi-square of prime %d", i)
                    .isLessThan(CHI2_15_999);
            assertUniformMoments(prime, he.basis.primes[i]);
        }
        assertThat(chiSquare(topBitsModQ(two))).isLessThan(CHI2_15_999);
        double[] decoded =
                he.encoder.decode(he.basis.toCenteredDoubles(two), ct.scale, ct.valueCount);
        assertThat(medianAbs(decoded)).as("decoded garbage").isGreaterThan(1e6);
    }

    @Test
    void anySingleShareAloneGivesResiduesIndistinguishableFromUniform() {
        List<KeyShare> members = members(5);
        Committee c = committee(members);
        float[] x = vector(new SplittableRandom(6), n);
        CkksCiphertext ct = (CkksCiphertext) he.encrypt(c.jointKey(), x, 0, n);
        for (KeyShare m : members) {
            CkksPartialDecryption p =
                    (CkksPartialDecryption) th.partialDecrypt(m.secretShare(), ct, 1);
            long[] alone = th.combineRaw(ct, List.of(p.d));
            long[] first = java.util.Arrays.copyOf(alone, n);
            assertThat(chiSquareTopBits(first, he.basis.primes[0])).isLessThan(CHI2_15_999);
            assertUniformMoments(first, he.basis.primes[0]);
            assertThat(chiSquare(topBitsModQ(alone))).isLessThan(CHI2_15_999);
            // and without any smudging, c0 + c1·s_i is just as uniform: the share is no key
            CkksSecretKeyShare s = (CkksSecretKeyShare) m.secretShare();
            long[] t = he.c1Of(ct).clone();
            he.mulAdd(t, s.s, s.sShoup, ct.c0);
            he.inverseNtt(t);
            assertThat(chiSquareTopBits(java.util.Arrays.copyOf(t, n), he.basis.primes[0]))
                    .isLessThan(CHI2_15_999);
        }
    }

    @Test
    void smudgingNoiseHasTheStatedWidthAndFullLowBits() {
        List<KeyShare> members = members(3);
        byte[] seed = members.get(0).publicShare().commonSeed();
        Committee c = committee(members);
        assertThat(seed).isEqualTo(members.get(1).secretShare().commonSeed());
        float[] x = vector(new SplittableRandom(7), n);
        CkksCiphertext fresh = (CkksCiphertext) he.encrypt(c.jointKey(), x, 0, n);
        CiphertextSum sum = he.newSum();
        sum.add(fresh, 3.0);
        sum.add(fresh, 4.5);
        CkksCiphertext weighted = (CkksCiphertext) sum.result();
        CkksSecretKeyShare s = (CkksSecretKeyShare) members.get(0).secretShare();
        for (Object[] cse : new Object[][] {{fresh, 1.0}, {weighted, 7.5}}) {
            CkksCiphertext ct = (CkksCiphertext) cse[0];
            double w = (double) cse[1];
            double sigma = th.smudgingStdDev(ct, w);
            assertThat(sigma)
                    .isEqualTo(
                            Math.scalb(1.0, 45)
                                    * (ct.scale / Math.scalb(1.0, 80))
                                    * Math.max(1, w));
            CkksPartialDecryption p = (CkksPartialDecryption) th.partialDecrypt(s, ct, w);
            // e = d_i - c1·s_i, exactly (BigInteger CRT of the residues)
            long[] cs = he.c1Of(ct).clone();
            long[] zero = new long[cs.length];
            he.mulAdd(cs, s.s, s.sShoup, zero);
            long[] e = p.d.clone();
            for (int i = 0; i < he.primeCount; i++) {
                long q = he.basis.primes[i];
                for (int k = i * n; k < (i + 1) * n; k++) {
                    e[k] = Math.floorMod(e[k] - cs[k], q);
                }
            }
            he.inverseNtt(e);
            BigInteger[] exact = crt(e);
            double mean = 0;
            double m2 = 0;
            double m4 = 0;
            int[] low = new int[16];
            for (BigInteger v : exact) {
                double z = v.doubleValue() / sigma;
                mean += z;
                m2 += z * z;
                m4 += z * z * z * z;
                low[v.mod(BigInteger.valueOf(16)).intValue()]++;
            }
            mean /= n;
            m2 /= n;
            m4 /= n;
            assertThat(mean).isBetween(-4 / Math.sqrt(n), 4 / Math.sqrt(n));
            assertThat(Math.sqrt(m2)).as("std / sigma").isBetween(0.97, 1.03);
            assertThat(m4 / (m2 * m2)).as("kurtosis (3 for a Gaussian)").isBetween(2.8, 3.2);
            assertThat(chiSquare(low)).as("low 4 bits uniform").isLessThan(CHI2_15_999);
        }
    }

    @Test
    void shareGenerationThroughTheSpiUsesFreshSecureRandomness() {
        HeContext secure = HeBackends.context("metisfl-ckks", CkksParameters.THRESHOLD_PRESET);
        ThresholdHe t = secure.threshold().orElseThrow();
        byte[] seed = t.newCommonSeed();
        KeyShare a = t.generateKeyShare(seed);
        KeyShare b = t.generateKeyShare(seed);
        assertThat(a.publicShare().shareId()).isNotEqualTo(b.publicShare().shareId());
        assertThat(t.newCommonSeed()).isNotEqualTo(seed);
        Committee c = t.combineKeyShares(List.of(a.publicShare(), b.publicShare()));
        float[] x = {1.5f, -2.25f, 0.125f};
        Ciphertext ct = secure.encrypt(c.jointKey(), x, 0, 3);
        double[] got =
                t.combine(
                        c,
                        ct,
                        List.of(
                                t.partialDecrypt(a.secretShare(), ct, 1),
                                t.partialDecrypt(b.secretShare(), ct, 1)));
        assertThat(got)
                .containsExactly(
                        new double[] {1.5, -2.25, 0.125},
                        org.assertj.core.api.Assertions.within(1e-7));
    }

    // ---------------------------------------------------------------- helpers

    private static long[] d(List<PartialDecryption> parts, int i) {
        return ((CkksPartialDecryption) parts.get(i)).d;
    }

    /** χ² of the top 4 bits of residues mod q against the uniform distribution on [0, q). */
    static double chiSquareTopBits(long[] residues, long q) {
        int[] counts = new int[16];
        for (long v : residues) {
            counts[
                    (int)
                            (BigInteger.valueOf(v)
                                    .shiftLeft(4)
                                    .divide(BigInteger.valueOf(q))
                                    .longValue())]++;
        }
        return chiSquare(counts);
    }

    /** Counts of the top 4 bits of the coefficients as integers in [0, Q). */
    private int[] topBitsModQ(long[] poly) {
        double q = he.basis.modulus.doubleValue();
        int[] counts = new int[16];
        for (double v : he.basis.toCenteredDoubles(poly)) {
            double u = v / q + (v < 0 ? 1 : 0); // in [0, 1)
            counts[Math.min(15, (int) (u * 16))]++;
        }
        return counts;
    }

    static double chiSquare(int[] counts) {
        long total = 0;
        for (int c : counts) {
            total += c;
        }
        double expected = (double) total / counts.length;
        double chi = 0;
        for (int c : counts) {
            chi += (c - expected) * (c - expected) / expected;
        }
        return chi;
    }

    /** Residues / q have mean 1/2 and variance 1/12 within 4 standard errors. */
    static void assertUniformMoments(long[] residues, long q) {
        int len = residues.length;
        double mean = 0;
        double var = 0;
        for (long v : residues) {
            mean += (double) v / q;
        }
        mean /= len;
        for (long v : residues) {
            double u = (double) v / q - mean;
            var += u * u;
        }
        var /= len;
        assertThat(mean)
                .isBetween(
                        0.5 - 4 * Math.sqrt(1.0 / 12 / len), 0.5 + 4 * Math.sqrt(1.0 / 12 / len));
        // the variance of (U - 1/2)^2 is 1/180
        assertThat(var)
                .isBetween(
                        1.0 / 12 - 4 * Math.sqrt(1.0 / 180 / len),
                        1.0 / 12 + 4 * Math.sqrt(1.0 / 180 / len));
    }

    private static double medianAbs(double[] v) {
        double[] a = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = Math.abs(v[i]);
        }
        java.util.Arrays.sort(a);
        return a[a.length / 2];
    }

    /** The centered integers of a polynomial's residues (coefficient domain), by CRT. */
    private BigInteger[] crt(long[] poly) {
        BigInteger q = BigInteger.ONE;
        for (long p : he.basis.primes) {
            q = q.multiply(BigInteger.valueOf(p));
        }
        BigInteger[] out = new BigInteger[n];
        for (int k = 0; k < n; k++) {
            BigInteger x = BigInteger.ZERO;
            for (int i = 0; i < he.primeCount; i++) {
                BigInteger p = BigInteger.valueOf(he.basis.primes[i]);
                BigInteger qi = q.divide(p);
                x =
                        x.add(
                                BigInteger.valueOf(poly[i * n + k])
                                        .multiply(qi)
                                        .multiply(qi.modInverse(p)));
            }
            x = x.mod(q);
            out[k] = x.shiftLeft(1).compareTo(q) > 0 ? x.subtract(q) : x;
        }
        return out;
    }
}
