package org.metisfl.flink.testutil;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Bulyan written out plainly from the paper (El Mhamdi et al. 2018) and Flower's description, to
 * check the job's rule against: repeated Krum over whole vectors, then per coordinate the mean of
 * the beta values closest to the median. Ties go to the lower index, as numpy's argmin and a stable
 * argsort do.
 */
public final class ReferenceBulyan {

    private ReferenceBulyan() {}

    /** Indices of the selected updates, in selection order. */
    public static List<Integer> select(float[][] updates, int f) {
        List<Integer> left = new ArrayList<>(IntStream.range(0, updates.length).boxed().toList());
        List<Integer> chosen = new ArrayList<>();
        while (chosen.size() < updates.length - 2 * f) {
            int closest = Math.max(1, left.size() - f - 2);
            Integer best = null;
            double bestScore = 0;
            for (int i : left) {
                final int self = i;
                double score =
                        left.stream()
                                .filter(j -> j != self)
                                .mapToDouble(j -> squaredDistance(updates[self], updates[j]))
                                .sorted()
                                .limit(closest)
                                .sum();
                if (best == null || score < bestScore) {
                    best = i;
                    bestScore = score;
                }
            }
            chosen.add(best);
            left.remove(best);
        }
        return chosen;
    }

    /** The aggregate over {@code selected} (indices, in the order ties are broken). */
    public static double[] aggregate(float[][] updates, List<Integer> selected, int f) {
        int beta = selected.size() - 2 * f;
        double[] out = new double[updates[0].length];
        for (int c = 0; c < out.length; c++) {
            final int col = c;
            double[] sorted =
                    selected.stream().mapToDouble(i -> updates[i][col]).sorted().toArray();
            int m = sorted.length;
            double median = m % 2 == 1 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
            out[c] =
                    selected.stream()
                            .sorted(
                                    Comparator.comparingDouble(
                                            (Integer i) -> Math.abs(updates[i][col] - median)))
                            .limit(beta)
                            .mapToDouble(i -> updates[i][col])
                            .average()
                            .orElseThrow();
        }
        return out;
    }

    private static double squaredDistance(float[] a, float[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) {
            s += ((double) a[k] - b[k]) * ((double) a[k] - b[k]);
        }
        return s;
    }
}
