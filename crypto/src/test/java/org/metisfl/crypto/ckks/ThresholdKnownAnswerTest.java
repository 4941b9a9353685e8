package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Constructor;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksPartialDecryption;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksPublicKeyShare;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksSecretKeyShare;
import org.metisfl.crypto.kernel.JavaRnsKernels;
import org.metisfl.crypto.kernel.ModArith;

/**
 * Known answers for threshold CKKS with a fixed seed, in a ring of dimension 16 (INSECURE, for this
 * test only: built around the parameter check by reflection) with the threshold preset's primes
 * sizes and scales, checked against an independent computation: BigInteger schoolbook negacyclic
 * products modulo Q, an O(n²) inverse transform from the documented NTT order (values at
 * ψ^(2·brv(j)+1)) and decoding by direct evaluation at the roots ζ^(5^j).
 */
class ThresholdKnownAnswerTest {

    private static final int N = 16;

    /** SHA-256 of the serialized joint public key and of member 0's partial decryption, seed 42. */
    private static final String JOINT_KEY_SHA256 =
            "accf323d1f523138bc0d020f44612b79505721144459a4d24f57c75effa3de8c";

    private static final String PARTIAL_SHA256 =
            "79a727d817f4d2bf64a9f248501a13bb956098e2622eb0f1a91dfb137257904a";

    private static CkksParameters insecureSmallRing() throws Exception {
        CkksParameters.Builder b =
                CkksParameters.builder()
                        .ringDimension(N)
                        .primeBits(60, 60, 60)
                        .scaleBits(80)
                        .weightScaleBits(35);
        Constructor<CkksParameters> c =
                CkksParameters.class.getDeclaredConstructor(CkksParameters.Builder.class);
        c.setAccessible(true);
        return c.newInstance(b);
    }

    private static JavaCkksContext context() throws Exception {
        return JavaCkksBackend.create(
                insecureSmallRing(),
                JavaRnsKernels.INSTANCE,
                RandomSource.insecureDeterministic(42));
    }

    private record Run(
            JavaCkksContext he,
            List<KeyShare> members,
            Committee committee,
            CkksCiphertext ct,
            List<PartialDecryption> parts,
            double[] combined) {}

    private static final float[] MESSAGE = {
        0.5f, -1.25f, 3f, 0.001f, -0.75f, 2.5f, 0f, 1f, -2f, 0.125f, 7.5f, -3.5f, 0.3f, -0.6f,
        1.75f, -0.01f
    };

    private static Run run() throws Exception {
        JavaCkksContext he = context();
        JavaCkksThreshold th = (JavaCkksThreshold) he.threshold().orElseThrow();
        byte[] seed = th.newCommonSeed();
        List<KeyShare> members = new ArrayList<>();
        List<PublicKeyShare> pub = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            KeyShare k = th.generateKeyShare(seed);
            members.add(k);
            pub.add(k.publicShare());
        }
        Committee c = th.combineKeyShares(pub);
        Ciphertext ct = he.encrypt(c.jointKey(), MESSAGE, 0, N);
        List<PartialDecryption> parts = new ArrayList<>();
        for (KeyShare k : members) {
            parts.add(th.partialDecrypt(k.secretShare(), ct, 1));
        }
        return new Run(he, members, c, (CkksCiphertext) ct, parts, th.combine(c, ct, parts));
    }

    @Test
    void fixedSeedGivesTheKnownAnswersAndTheSameBytesTwice() throws Exception {
        Run a = run();
        Run b = run();
        JavaCkksThreshold th = (JavaCkksThreshold) a.he.threshold().orElseThrow();
        byte[] key = a.he.serialize(a.committee.jointKey());
        byte[] part = th.serialize(a.parts.get(0));
        assertThat(key).isEqualTo(b.he.serialize(b.committee.jointKey()));
        assertThat(part).isEqualTo(th.serialize(b.parts.get(0)));
        assertThat(sha256(key)).isEqualTo(JOINT_KEY_SHA256);
        assertThat(sha256(part)).isEqualTo(PARTIAL_SHA256);
    }

    @Test
    void sharesJointKeyPartialsAndResultMatchAnIndependentComputation() throws Exception {
        Run r = run();
        JavaCkksContext he = r.he;
        Independent ind = new Independent(he.basis.primes, he.basis.ntt);

        BigInteger[] a =
                ind.coefficients(he.expandUniform(r.members.get(0).publicShare().commonSeed()));
        BigInteger[] jointB = new BigInteger[N];
        java.util.Arrays.fill(jointB, BigInteger.ZERO);
        BigInteger[] s = new BigInteger[N];
        java.util.Arrays.fill(s, BigInteger.ZERO);
        List<BigInteger[]> shares = new ArrayList<>();
        for (KeyShare k : r.members) {
            CkksSecretKeyShare sk = (CkksSecretKeyShare) k.secretShare();
            BigInteger[] si = new BigInteger[N];
            for (int j = 0; j < N; j++) {
                si[j] = BigInteger.valueOf(sk.ternary[j]);
                assertThat(sk.ternary[j]).isBetween((byte) -1, (byte) 1);
            }
            shares.add(si);
            s = ind.add(s, si);
            BigInteger[] bi = ind.coefficients(((CkksPublicKeyShare) k.publicShare()).b);
            jointB = ind.add(jointB, bi);
            // b_i + a·s_i = e_i: a small Gaussian error
            BigInteger[] e = ind.add(bi, ind.multiply(a, si));
            assertThat(ind.maxAbs(e)).isLessThanOrEqualTo(64).isGreaterThan(0);
        }
        // the joint key is the sum of the shares
        CkksPublicKey joint = (CkksPublicKey) r.committee.jointKey();
        assertThat(ind.coefficients(joint.b)).isEqualTo(jointB);
        assertThat(ind.coefficients(joint.a)).isEqualTo(a);

        BigInteger[] c0 = ind.coefficients(r.ct.c0);
        BigInteger[] c1 = ind.coefficients(r.ct.c1);
        // each partial decryption is c1·s_i plus smudging of standard deviation 2^45
        BigInteger[] combined = c0;
        for (int i = 0; i < r.members.size(); i++) {
            BigInteger[] d = ind.coefficients(((CkksPartialDecryption) r.parts.get(i)).d);
            BigInteger[] smudge = ind.add(d, ind.negate(ind.multiply(c1, shares.get(i))));
            assertThat(ind.maxAbs(smudge)).isLessThan(10L << 45).isGreaterThan(1L << 40);
            combined = ind.add(combined, d);
        }
        double[] decoded = ind.decode(combined, Math.scalb(1.0, 80));
        double[] withKey = ind.decode(ind.add(c0, ind.multiply(c1, s)), Math.scalb(1.0, 80));
        for (int j = 0; j < N; j++) {
            assertThat(decoded[j])
                    .isCloseTo(MESSAGE[j], org.assertj.core.api.Assertions.within(1e-6));
            assertThat(withKey[j])
                    .isCloseTo(MESSAGE[j], org.assertj.core.api.Assertions.within(1e-12));
            assertThat(r.combined[j])
                    .isCloseTo(decoded[j], org.assertj.core.api.Assertions.within(1e-9));
        }
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /** Polynomial arithmetic modulo (X^n + 1, Q) with BigInteger, independent of the kernels. */
    private static final class Independent {
        private final long[] primes;
        private final long[] psi;
        private final BigInteger q;

        Independent(long[] primes, org.metisfl.crypto.kernel.NttTable[] tables) {
            this.primes = primes;
            this.psi = new long[primes.length];
            BigInteger prod = BigInteger.ONE;
            for (int i = 0; i < primes.length; i++) {
                BigInteger p = BigInteger.valueOf(primes[i]);
                assertThat(p.isProbablePrime(64)).isTrue();
                assertThat(p.mod(BigInteger.valueOf(2 * N))).isEqualTo(BigInteger.ONE);
                psi[i] = tables[i].psi;
                // ψ is a primitive 2n-th root: ψ^n = -1
                assertThat(BigInteger.valueOf(psi[i]).modPow(BigInteger.valueOf(N), p))
                        .isEqualTo(p.subtract(BigInteger.ONE));
                prod = prod.multiply(p);
            }
            this.q = prod;
        }

        /** NTT-domain residues to centered integer coefficients (inverse DFT + CRT). */
        BigInteger[] coefficients(long[] ntt) {
            int logN = Integer.numberOfTrailingZeros(N);
            BigInteger[] out = new BigInteger[N];
            java.util.Arrays.fill(out, BigInteger.ZERO);
            for (int i = 0; i < primes.length; i++) {
                BigInteger p = BigInteger.valueOf(primes[i]);
                BigInteger nInv = BigInteger.valueOf(N).modInverse(p);
                BigInteger qi = q.divide(p);
                BigInteger crt = qi.multiply(qi.modInverse(p));
                for (int k = 0; k < N; k++) {
                    BigInteger acc = BigInteger.ZERO;
                    for (int j = 0; j < N; j++) {
                        long exp = (2L * ModArith.bitReverse(j, logN) + 1) * k;
                        BigInteger xInv =
                                BigInteger.valueOf(psi[i])
                                        .modPow(BigInteger.valueOf(exp), p)
                                        .modInverse(p);
                        acc = acc.add(BigInteger.valueOf(ntt[i * N + j]).multiply(xInv));
                    }
                    BigInteger coef = acc.multiply(nInv).mod(p);
                    out[k] = out[k].add(coef.multiply(crt));
                }
            }
            for (int k = 0; k < N; k++) {
                out[k] = center(out[k]);
            }
            return out;
        }

        BigInteger center(BigInteger x) {
            x = x.mod(q);
            return x.shiftLeft(1).compareTo(q) > 0 ? x.subtract(q) : x;
        }

        BigInteger[] add(BigInteger[] x, BigInteger[] y) {
            BigInteger[] out = new BigInteger[N];
            for (int k = 0; k < N; k++) {
                out[k] = center(x[k].add(y[k]));
            }
            return out;
        }

        BigInteger[] negate(BigInteger[] x) {
            BigInteger[] out = new BigInteger[N];
            for (int k = 0; k < N; k++) {
                out[k] = center(x[k].negate());
            }
            return out;
        }

        /** Schoolbook product in Z_Q[X]/(X^n + 1). */
        BigInteger[] multiply(BigInteger[] x, BigInteger[] y) {
            BigInteger[] out = new BigInteger[N];
            java.util.Arrays.fill(out, BigInteger.ZERO);
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < N; j++) {
                    BigInteger t = x[i].multiply(y[j]);
                    int k = i + j;
                    if (k >= N) {
                        out[k - N] = out[k - N].subtract(t);
                    } else {
                        out[k] = out[k].add(t);
                    }
                }
            }
            for (int k = 0; k < N; k++) {
                out[k] = center(out[k]);
            }
            return out;
        }

        long maxAbs(BigInteger[] x) {
            BigInteger m = BigInteger.ZERO;
            for (BigInteger v : x) {
                m = m.max(v.abs());
            }
            return m.bitLength() < 63 ? m.longValue() : Long.MAX_VALUE;
        }

        /** Values of m(X)/scale at ζ^(5^j) (real parts, then imaginary parts), ζ = e^(iπ/n). */
        double[] decode(BigInteger[] coeffs, double scale) {
            double[] out = new double[N];
            int slots = N / 2;
            long g = 1;
            for (int j = 0; j < slots; j++) {
                double re = 0;
                double im = 0;
                for (int k = 0; k < N; k++) {
                    double angle = Math.PI * ((g * k) % (2L * N)) / N;
                    double c = coeffs[k].doubleValue() / scale;
                    re += c * Math.cos(angle);
                    im += c * Math.sin(angle);
                }
                out[j] = re;
                out[j + slots] = im;
                g = (g * 5) % (2L * N);
            }
            return out;
        }
    }
}
