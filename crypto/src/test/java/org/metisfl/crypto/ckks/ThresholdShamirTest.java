package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShamirKeyShare;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksPartialDecryption;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksSecretKeyShare;
import org.metisfl.crypto.ckks.JavaCkksThreshold.CkksShamirShare;
import org.metisfl.crypto.kernel.JavaRnsKernels;

/**
 * t-out-of-n by Shamir re-sharing of the additive shares over each RNS prime: 3 of 5 members
 * decrypt, whichever 3 (or more); the Shamir shares of any 3 recombine exactly to Σ sᵢ (checked
 * with BigInteger Lagrange coefficients); 2 members get uniform residues and are refused; a Shamir
 * share alone is uniform; dealings that do not belong are refused.
 */
class ThresholdShamirTest {

    private static final double CHI2_15_999 = 37.70;
    private static final int T = 3;

    private final JavaCkksContext he =
            JavaCkksBackend.create(
                    CkksParameters.preset(CkksParameters.THRESHOLD_PRESET),
                    JavaRnsKernels.INSTANCE,
                    RandomSource.insecureDeterministic(31337));
    private final JavaCkksThreshold th = (JavaCkksThreshold) he.threshold().orElseThrow();
    private final int n = he.valuesPerCiphertext();
    private final List<KeyShare> members = new ArrayList<>();
    private final Committee committee;
    private final List<ShamirKeyShare> shamir = new ArrayList<>();

    ThresholdShamirTest() {
        byte[] seed = th.newCommonSeed();
        List<PublicKeyShare> pub = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            KeyShare k = th.generateKeyShare(seed);
            members.add(k);
            pub.add(k.publicShare());
        }
        committee = th.combineKeyShares(pub);
        // dealings[i].get(j): from member i (in committee order) to member j
        List<KeyShare> ordered = inCommitteeOrder();
        List<List<byte[]>> dealings = new ArrayList<>();
        for (KeyShare k : ordered) {
            dealings.add(th.dealShamirShares(k.secretShare(), committee, T));
        }
        for (int j = 0; j < 5; j++) {
            List<byte[]> toJ = new ArrayList<>();
            for (int i = 4; i >= 0; i--) { // any order
                toJ.add(dealings.get(i).get(j));
            }
            ShamirKeyShare s = th.combineDealings(ordered.get(j).secretShare(), committee, T, toJ);
            // through the wire, as a member would keep it
            shamir.add(th.deserializeShamirKeyShare(th.serialize(s)));
        }
    }

    private List<KeyShare> inCommitteeOrder() {
        List<KeyShare> out = new ArrayList<>();
        for (String id : committee.memberIds()) {
            for (KeyShare k : members) {
                if (java.util.HexFormat.of().formatHex(k.publicShare().shareId()).equals(id)) {
                    out.add(k);
                }
            }
        }
        return out;
    }

    private List<String> ids(int... idx) {
        List<String> out = new ArrayList<>();
        for (int i : idx) {
            out.add(committee.memberIds().get(i));
        }
        return out;
    }

    @Test
    void anyThreeSharesRecombineExactlyToTheSumOfTheAdditiveShares() {
        long[] sum = new long[he.primeCount * n];
        for (KeyShare k : members) {
            byte[] t = ((CkksSecretKeyShare) k.secretShare()).ternary;
            for (int i = 0; i < he.primeCount; i++) {
                for (int c = 0; c < n; c++) {
                    sum[i * n + c] = Math.floorMod(sum[i * n + c] + t[c], he.basis.primes[i]);
                }
            }
        }
        for (int[] set : new int[][] {{0, 1, 2}, {0, 2, 4}, {1, 3, 4}, {1, 2, 3, 4}}) {
            long[] acc = new long[he.primeCount * n];
            for (int j : set) {
                CkksShamirShare s = (CkksShamirShare) shamir.get(j);
                assertThat(s.index).isEqualTo(j + 1);
                for (int i = 0; i < he.primeCount; i++) {
                    BigInteger q = BigInteger.valueOf(he.basis.primes[i]);
                    BigInteger lambda = BigInteger.ONE;
                    for (int k : set) {
                        if (k != j) {
                            lambda =
                                    lambda.multiply(BigInteger.valueOf(k + 1))
                                            .multiply(BigInteger.valueOf(k - j).modInverse(q))
                                            .mod(q);
                        }
                    }
                    for (int c = 0; c < n; c++) {
                        acc[i * n + c] =
                                BigInteger.valueOf(s.s[i * n + c])
                                        .multiply(lambda)
                                        .add(BigInteger.valueOf(acc[i * n + c]))
                                        .mod(q)
                                        .longValue();
                    }
                }
            }
            he.inverseNtt(acc);
            assertThat(acc).as("set %s", Arrays.toString(set)).isEqualTo(sum);
        }
    }

    @Test
    void anyThreeOfFiveDecryptAWeightedSumWithinTolerance() {
        SplittableRandom r = new SplittableRandom(8);
        CiphertextSum sum = he.newSum();
        double[] exact = new double[n];
        double w = 0;
        for (int v = 0; v < 10; v++) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) (r.nextDouble() * 2 - 1);
            }
            double wv = 1 + r.nextInt(50);
            w += wv;
            sum.add(he.encrypt(committee.jointKey(), x, 0, n), wv);
            for (int i = 0; i < n; i++) {
                exact[i] += wv * x[i];
            }
        }
        Ciphertext ct = sum.result();
        for (int[] set : new int[][] {{0, 1, 2}, {2, 3, 4}, {4, 0, 3}, {0, 1, 2, 3, 4}}) {
            List<String> answering = ids(set);
            List<PartialDecryption> parts = new ArrayList<>();
            for (int j : set) {
                parts.add(th.partialDecrypt(shamir.get(j), committee, ct, w, answering));
            }
            double[] got = th.combine(committee, T, ct, parts);
            double predicted = Math.scalb(1.0, -29) * w * Math.sqrt(set.length);
            double maxErr = 0;
            for (int i = 0; i < n; i++) {
                maxErr = Math.max(maxErr, Math.abs(got[i] - exact[i]));
            }
            assertThat(maxErr).as("set %s", Arrays.toString(set)).isLessThan(6 * predicted);
        }
    }

    @Test
    void twoMembersAreRefusedAndTheirSumIsUniform() {
        float[] x = new float[n];
        Arrays.fill(x, 0.5f);
        CkksCiphertext ct = (CkksCiphertext) he.encrypt(committee.jointKey(), x, 0, n);
        List<String> two = ids(1, 3);
        assertThatThrownBy(() -> th.partialDecrypt(shamir.get(1), committee, ct, 1, two))
                .hasMessageContaining("needs at least 3 of 5 members, got 2");
        // what the two could compute anyway, with the Lagrange coefficients of their pair
        List<long[]> ds = new ArrayList<>();
        for (int j : new int[] {1, 3}) {
            CkksShamirShare s = (CkksShamirShare) shamir.get(j);
            long[] lambda = th.lagrange(j + 1, List.of(2, 4));
            long[] t = he.c1Of(ct).clone();
            for (int i = 0; i < he.primeCount; i++) {
                long q = he.basis.primes[i];
                for (int c = i * n; c < (i + 1) * n; c++) {
                    t[c] = org.metisfl.crypto.kernel.ModArith.mulModSlow(t[c], lambda[i], q);
                }
            }
            he.mulAdd(t, s.s, s.sShoup, new long[t.length]);
            ds.add(t);
        }
        long[] raw = th.combineRaw(ct, ds);
        assertThat(ThresholdCkksTest.chiSquare(topBitsModQ(raw))).isLessThan(CHI2_15_999);
        // and three of them decrypt
        List<String> three = ids(1, 3, 4);
        List<PartialDecryption> parts = new ArrayList<>();
        for (int j : new int[] {1, 3, 4}) {
            parts.add(th.partialDecrypt(shamir.get(j), committee, ct, 1, three));
        }
        long[] ok = th.combineRaw(ct, partsD(parts));
        assertThat(ThresholdCkksTest.chiSquare(topBitsModQ(ok))).isGreaterThan(1000);
        assertThat(th.combine(committee, T, ct, parts)[7])
                .isCloseTo(0.5, org.assertj.core.api.Assertions.within(1e-7));
        assertThatThrownBy(() -> th.combine(committee, T, ct, parts.subList(0, 2)))
                .hasMessageContaining("at least 3");
    }

    @Test
    void aShamirShareAloneIsUniformResidues() {
        for (ShamirKeyShare s : shamir) {
            long[] c = ((CkksShamirShare) s).s.clone();
            he.inverseNtt(c);
            for (int i = 0; i < he.primeCount; i++) {
                long[] prime = Arrays.copyOfRange(c, i * n, (i + 1) * n);
                assertThat(ThresholdCkksTest.chiSquareTopBits(prime, he.basis.primes[i]))
                        .isLessThan(CHI2_15_999);
                ThresholdCkksTest.assertUniformMoments(prime, he.basis.primes[i]);
            }
        }
    }

    @Test
    void refusesPartialDecryptionsForAnotherSetAndDealingsThatDoNotBelong() {
        float[] x = {1f, 2f};
        Ciphertext ct = he.encrypt(committee.jointKey(), x, 0, 2);
        List<PartialDecryption> mixed = new ArrayList<>();
        mixed.add(th.partialDecrypt(shamir.get(0), committee, ct, 1, ids(0, 1, 2)));
        mixed.add(th.partialDecrypt(shamir.get(1), committee, ct, 1, ids(0, 1, 2)));
        mixed.add(th.partialDecrypt(shamir.get(3), committee, ct, 1, ids(0, 1, 3)));
        assertThatThrownBy(() -> th.combine(committee, T, ct, mixed))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("another set of answering members");
        assertThatThrownBy(() -> th.partialDecrypt(shamir.get(4), committee, ct, 1, ids(0, 1, 2)))
                .hasMessageContaining("is not among the answering members");

        List<KeyShare> ordered = inCommitteeOrder();
        List<byte[]> from0 = th.dealShamirShares(ordered.get(0).secretShare(), committee, T);
        List<byte[]> from1 = th.dealShamirShares(ordered.get(1).secretShare(), committee, T);
        KeyShare me = ordered.get(2);
        assertThatThrownBy(
                        () ->
                                th.combineDealings(
                                        me.secretShare(), committee, T, List.of(from0.get(3))))
                .hasMessageContaining("addressed to")
                .hasMessageContaining("not to this member");
        assertThatThrownBy(
                        () ->
                                th.combineDealings(
                                        me.secretShare(),
                                        committee,
                                        T,
                                        List.of(from0.get(2), from1.get(2))))
                .hasMessageContaining("needs the dealings of every committee member");
        assertThatThrownBy(
                        () ->
                                th.combineDealings(
                                        me.secretShare(),
                                        committee,
                                        T,
                                        List.of(from0.get(2), from0.get(2))))
                .hasMessageContaining("two dealings from member");
        assertThatThrownBy(
                        () ->
                                th.combineDealings(
                                        me.secretShare(), committee, 4, List.of(from0.get(2))))
                .hasMessageContaining("another committee or threshold");
        assertThatThrownBy(() -> th.dealShamirShares(me.secretShare(), committee, 6))
                .hasMessageContaining("between 1 and the committee size 5");
        byte[] cut = Arrays.copyOf(th.serialize(shamir.get(0)), 100);
        assertThatThrownBy(() -> th.deserializeShamirKeyShare(cut))
                .isInstanceOf(org.metisfl.crypto.MalformedCiphertextException.class);
    }

    private static List<long[]> partsD(List<PartialDecryption> parts) {
        List<long[]> out = new ArrayList<>();
        for (PartialDecryption p : parts) {
            out.add(((CkksPartialDecryption) p).d);
        }
        return out;
    }

    private int[] topBitsModQ(long[] poly) {
        double q = he.basis.modulus.doubleValue();
        int[] counts = new int[16];
        for (double v : he.basis.toCenteredDoubles(poly)) {
            double u = v / q + (v < 0 ? 1 : 0);
            counts[Math.min(15, (int) (u * 16))]++;
        }
        return counts;
    }
}
