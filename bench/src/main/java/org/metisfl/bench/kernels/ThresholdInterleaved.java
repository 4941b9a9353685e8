package org.metisfl.bench.kernels;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ckks.JavaCkksBackend;
import org.metisfl.crypto.ckks.RandomSource;
import org.metisfl.crypto.kernel.RnsKernelsLoader;

/**
 * Threshold CKKS on 1M parameters (preset {@value CkksParameters#THRESHOLD_PRESET}), Java and
 * native kernels interleaved round by round as in {@link CkksInterleaved}: one member's key share,
 * the joint key of a committee, encryption under the joint key, one member's partial decryptions of
 * a 1M-parameter weighted sum, and the combination of the committee's partial decryptions; prints
 * the minimum and median per operation (ms) and the bytes a member sends.
 *
 * <p>Usage: {@code java -cp ... org.metisfl.bench.kernels.ThresholdInterleaved [rounds] [members]}.
 */
public final class ThresholdInterleaved {

    private ThresholdInterleaved() {}

    private interface Op {
        Object run();
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        int members = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int values = 1 << 20;
        float[] update = new float[values];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < values; i++) {
            update[i] = (float) (r.nextDouble() * 2 - 1);
        }
        String[] kernels = {"java", "native"};
        Map<String, Map<String, Op>> ops = new LinkedHashMap<>();
        long shareBytes = 0;
        long partialBytes = 0;
        for (String k : kernels) {
            HeContext he =
                    JavaCkksBackend.create(
                            CkksParameters.preset(CkksParameters.THRESHOLD_PRESET),
                            RnsKernelsLoader.choose(k),
                            RandomSource.secure());
            ThresholdHe th = he.threshold().orElseThrow();
            byte[] seed = th.newCommonSeed();
            List<KeyShare> shares = new ArrayList<>();
            List<PublicKeyShare> pub = new ArrayList<>();
            for (int m = 0; m < members; m++) {
                KeyShare s = th.generateKeyShare(seed);
                shares.add(s);
                pub.add(s.publicShare());
            }
            Committee committee = th.combineKeyShares(pub);
            List<Ciphertext> sums = new ArrayList<>();
            for (Ciphertext c : he.encrypt(committee.jointKey(), update)) {
                CiphertextSum s = he.newSum();
                s.add(c, 2.0);
                sums.add(s.result());
            }
            List<List<PartialDecryption>> parts = new ArrayList<>();
            for (Ciphertext c : sums) {
                List<PartialDecryption> ps = new ArrayList<>();
                for (KeyShare s : shares) {
                    ps.add(th.partialDecrypt(s.secretShare(), c, 2.0));
                }
                parts.add(ps);
            }
            shareBytes = th.serialize(shares.get(0).publicShare()).length;
            partialBytes = 0;
            for (List<PartialDecryption> ps : parts) {
                partialBytes += th.serialize(ps.get(0)).length;
            }
            Map<String, Op> m = new LinkedHashMap<>();
            m.put("key share (one member, once per key)", () -> th.generateKeyShare(seed));
            m.put(members + " public shares to the joint key", () -> th.combineKeyShares(pub));
            m.put("encrypt under the joint key", () -> he.encrypt(committee.jointKey(), update));
            m.put(
                    "partial decryption (one member)",
                    () -> {
                        List<PartialDecryption> out = new ArrayList<>();
                        for (Ciphertext c : sums) {
                            out.add(th.partialDecrypt(shares.get(0).secretShare(), c, 2.0));
                        }
                        return out;
                    });
            m.put(
                    "combine " + members + " partial decryptions + decode",
                    () -> {
                        List<double[]> out = new ArrayList<>();
                        for (int i = 0; i < sums.size(); i++) {
                            out.add(th.combine(committee, sums.get(i), parts.get(i)));
                        }
                        return out;
                    });
            ops.put(k, m);
        }
        Map<String, double[]> times = new LinkedHashMap<>();
        for (int round = 0; round < rounds + 2; round++) {
            for (String k : kernels) {
                for (Map.Entry<String, Op> e : ops.get(k).entrySet()) {
                    long t0 = System.nanoTime();
                    Object sink = e.getValue().run();
                    double ms = (System.nanoTime() - t0) / 1e6;
                    if (sink == null) {
                        throw new IllegalStateException();
                    }
                    if (round >= 2) { // two warm-up rounds
                        times.computeIfAbsent(e.getKey() + "|" + k, x -> new double[rounds])[
                                        round - 2] =
                                ms;
                    }
                }
            }
        }
        System.out.printf(
                Locale.ROOT,
                "| operation (1M parameters, %d members) | java min | java median | native min |"
                        + " native median |%n| --- | --- | --- | --- | --- |%n",
                members);
        for (String op : ops.get("java").keySet()) {
            double[] j = times.get(op + "|java");
            double[] n = times.get(op + "|native");
            Arrays.sort(j);
            Arrays.sort(n);
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms |%n",
                    op,
                    j[0],
                    j[rounds / 2],
                    n[0],
                    n[rounds / 2]);
        }
        System.out.printf(
                Locale.ROOT,
                "public key share: %,d bytes; one member's partial decryptions of 1M parameters:"
                        + " %,d bytes (%.2fx float32)%n",
                shareBytes,
                partialBytes,
                partialBytes / (4.0 * values));
    }
}
