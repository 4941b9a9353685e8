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
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ckks.JavaCkksBackend;
import org.metisfl.crypto.ckks.RandomSource;
import org.metisfl.crypto.kernel.RnsKernelsLoader;

/**
 * The operations of {@link CkksBenchmark} on 1M parameters, Java and native kernels interleaved
 * round by round, so both see the same load on a shared machine; prints the minimum and median per
 * operation (ms). JMH gives the statistics; this gives fair ratios when the load drifts.
 *
 * <p>Usage: {@code java -cp ... org.metisfl.bench.kernels.CkksInterleaved [rounds]}.
 */
public final class CkksInterleaved {

    private CkksInterleaved() {}

    private interface Op {
        Object run();
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        int values = 1 << 20;
        float[] update = new float[values];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < values; i++) {
            update[i] = (float) (r.nextDouble() * 2 - 1);
        }
        String[] kernels = {"java", "native"};
        Map<String, Map<String, Op>> ops = new LinkedHashMap<>();
        for (String k : kernels) {
            HeContext he =
                    JavaCkksBackend.create(
                            CkksParameters.preset(CkksParameters.DEFAULT_PRESET),
                            RnsKernelsLoader.choose(k),
                            RandomSource.secure());
            KeyPair keys = he.generateKeys();
            List<Ciphertext> fresh = he.encrypt(keys.secretKey(), update);
            List<byte[]> wire = new ArrayList<>();
            List<CiphertextSum> sums = new ArrayList<>();
            List<Ciphertext> weighted = new ArrayList<>();
            for (Ciphertext c : fresh) {
                wire.add(he.serialize(c));
                CiphertextSum s = he.newSum();
                s.add(c, 0.5);
                sums.add(s);
                weighted.add(s.result());
            }
            Map<String, Op> m = new LinkedHashMap<>();
            m.put("encrypt, public key", () -> he.encrypt(keys.publicKey(), update));
            m.put("encrypt, secret key (compact)", () -> he.encrypt(keys.secretKey(), update));
            m.put(
                    "controller: deserialize + accumulate",
                    () -> {
                        for (int i = 0; i < wire.size(); i++) {
                            sums.get(i).add(he.deserializeCiphertext(wire.get(i)), 0.25);
                        }
                        return sums;
                    });
            m.put(
                    "add two encrypted updates",
                    () -> {
                        List<Ciphertext> out = new ArrayList<>();
                        for (Ciphertext c : weighted) {
                            out.add(he.add(c, c));
                        }
                        return out;
                    });
            m.put("decrypt", () -> he.decrypt(keys.secretKey(), weighted));
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
                "| operation on 1M parameters | java min | java median | native min | native median"
                        + " |%n| --- | --- | --- | --- | --- |%n");
        for (String op : ops.get("java").keySet()) {
            double[] j = times.get(op + "|java");
            double[] n = times.get(op + "|native");
            Arrays.sort(j);
            Arrays.sort(n);
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.0f ms | %.0f ms | %.0f ms | %.0f ms |%n",
                    op,
                    j[0],
                    j[rounds / 2],
                    n[0],
                    n[rounds / 2]);
        }
    }
}
