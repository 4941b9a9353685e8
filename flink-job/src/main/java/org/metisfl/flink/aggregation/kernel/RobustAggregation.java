package org.metisfl.flink.aggregation.kernel;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Byzantine-robust rules that need every update of the round for the shard: coordinate-wise median
 * and trimmed mean (Yin et al., "Byzantine-Robust Distributed Learning", ICML 2018) and Krum
 * (Blanchard et al., NeurIPS 2017). The caller bounds how many updates it holds.
 */
public final class RobustAggregation {

    private RobustAggregation() {}

    /**
     * Coordinate-wise median of equally long updates (mean of the two middle values for an even
     * count).
     */
    public static float[] coordinateMedian(List<float[]> updates) {
        float[][] rows = Checks.requireUpdates(updates);
        int n = rows.length;
        float[] column = new float[n];
        float[] out = new float[rows[0].length];
        for (int j = 0; j < out.length; j++) {
            sortedColumn(rows, j, column);
            out[j] =
                    n % 2 == 1
                            ? column[n / 2]
                            : (float) (((double) column[n / 2 - 1] + column[n / 2]) / 2);
        }
        return out;
    }

    /**
     * Coordinate-wise mean after dropping the floor(trim*n) smallest and largest values per
     * coordinate; 0 <= trim < 0.5.
     */
    public static float[] trimmedMean(List<float[]> updates, double trim) {
        if (!(trim >= 0 && trim < 0.5)) {
            throw new IllegalArgumentException("trim must be in [0, 0.5), was " + trim);
        }
        float[][] rows = Checks.requireUpdates(updates);
        int n = rows.length;
        int cut = (int) Math.floor(trim * n);
        float[] column = new float[n];
        float[] out = new float[rows[0].length];
        for (int j = 0; j < out.length; j++) {
            sortedColumn(rows, j, column);
            double sum = 0;
            for (int i = cut; i < n - cut; i++) {
                sum += column[i];
            }
            out[j] = (float) (sum / (n - 2 * cut));
        }
        return out;
    }

    /**
     * Adds to acc[i][j] the squared L2 distance between updates i and j over this shard (acc is n x
     * n, symmetric). Distances are additive over coordinates, so shards sum their partial results.
     */
    public static void addPairwiseSquaredDistances(List<float[]> updates, double[][] acc) {
        float[][] rows = Checks.requireUpdates(updates);
        int n = rows.length;
        requireSquare("acc", acc, n);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double d = squaredDistance(rows[i], rows[j]);
                acc[i][j] += d;
                acc[j][i] += d;
            }
        }
    }

    /**
     * Krum (Blanchard et al., NeurIPS 2017): indices of the m updates with the lowest score,
     * score(i) = sum of the n-f-2 smallest squared distances from i to the others; m=1 is Krum, m>1
     * multi-Krum. Requires n > 2f+2; ties broken by the lower index.
     *
     * @param pairwiseSquaredDistances n x n, as summed by {@link #addPairwiseSquaredDistances}
     * @param f the number of Byzantine updates tolerated, {@code >= 0}
     * @param m how many to select, in {@code [1, n]}
     * @return the selected indices, lowest score first
     */
    public static int[] krumSelect(double[][] pairwiseSquaredDistances, int f, int m) {
        int n = pairwiseSquaredDistances.length;
        requireSquare("pairwiseSquaredDistances", pairwiseSquaredDistances, n);
        if (f < 0) {
            throw new IllegalArgumentException("f must be >= 0, was " + f);
        }
        if (n <= 2 * f + 2) {
            throw new IllegalArgumentException(
                    "Krum needs n > 2f + 2 updates, got n="
                            + n
                            + " for f="
                            + f
                            + "; lower f or wait for more updates");
        }
        if (m < 1 || m > n) {
            throw new IllegalArgumentException("m must be in [1, " + n + "], was " + m);
        }
        double[] scores = new double[n];
        double[] others = new double[n - 1];
        for (int i = 0; i < n; i++) {
            for (int j = 0, k = 0; j < n; j++) {
                if (j != i) {
                    others[k++] = pairwiseSquaredDistances[i][j];
                }
            }
            Arrays.sort(others);
            for (int k = 0; k < n - f - 2; k++) {
                scores[i] += others[k];
            }
        }
        return IntStream.range(0, n)
                .boxed()
                .sorted(
                        Comparator.<Integer>comparingDouble(i -> scores[i])
                                .thenComparingInt(i -> i))
                .limit(m)
                .mapToInt(Integer::intValue)
                .toArray();
    }

    /**
     * Bulyan's selection (El Mhamdi et al., ICML 2018): Krum applied repeatedly, each time to the
     * updates not yet selected (score = the sum of the max(1, r - f - 2) smallest squared distances
     * to the r - 1 others left), until theta = n - 2f are selected. Requires n >= 4f + 3.
     *
     * @return the selected indices, in selection order
     */
    public static int[] bulyanSelect(double[][] pairwiseSquaredDistances, int f) {
        int n = pairwiseSquaredDistances.length;
        requireSquare("pairwiseSquaredDistances", pairwiseSquaredDistances, n);
        if (f < 0) {
            throw new IllegalArgumentException("f must be >= 0, was " + f);
        }
        if (n < 4 * f + 3) {
            throw new IllegalArgumentException(
                    "Bulyan needs n >= 4f + 3 updates, got n="
                            + n
                            + " for f="
                            + f
                            + "; lower f or wait for more updates");
        }
        int theta = n - 2 * f;
        List<Integer> left = new java.util.ArrayList<>(IntStream.range(0, n).boxed().toList());
        int[] selected = new int[theta];
        double[] others = new double[n];
        for (int s = 0; s < theta; s++) {
            int r = left.size();
            int closest = Math.min(r - 1, Math.max(1, r - f - 2));
            int best = -1;
            double bestScore = Double.POSITIVE_INFINITY;
            for (int i : left) {
                int k = 0;
                for (int j : left) {
                    if (j != i) {
                        others[k++] = pairwiseSquaredDistances[i][j];
                    }
                }
                Arrays.sort(others, 0, k);
                double score = 0;
                for (int c = 0; c < closest; c++) {
                    score += others[c];
                }
                if (score < bestScore || (score == bestScore && i < best)) {
                    bestScore = score;
                    best = i;
                }
            }
            selected[s] = best;
            left.remove(Integer.valueOf(best));
        }
        return selected;
    }

    /**
     * Bulyan's aggregation: per coordinate, the mean of the {@code beta} values closest to the
     * coordinate's median (mean of the two middle values for an even count); ties in distance go to
     * the earlier update.
     *
     * @param beta in [1, number of updates]
     */
    public static float[] meanAroundMedian(List<float[]> updates, int beta) {
        float[][] rows = Checks.requireUpdates(updates);
        int n = rows.length;
        if (beta < 1 || beta > n) {
            throw new IllegalArgumentException("beta must be in [1, " + n + "], was " + beta);
        }
        float[] column = new float[n];
        Integer[] order = new Integer[n];
        double[] distance = new double[n];
        float[] out = new float[rows[0].length];
        for (int j = 0; j < out.length; j++) {
            sortedColumn(rows, j, column);
            double median =
                    n % 2 == 1 ? column[n / 2] : ((double) column[n / 2 - 1] + column[n / 2]) / 2;
            for (int i = 0; i < n; i++) {
                order[i] = i;
                distance[i] = Math.abs(rows[i][j] - median);
            }
            Arrays.sort(order, Comparator.comparingDouble(i -> distance[i]));
            double sum = 0;
            for (int k = 0; k < beta; k++) {
                sum += rows[order[k]][j];
            }
            out[j] = (float) (sum / beta);
        }
        return out;
    }

    private static void sortedColumn(float[][] rows, int j, float[] column) {
        for (int i = 0; i < rows.length; i++) {
            column[i] = rows[i][j];
        }
        Arrays.sort(column);
    }

    private static double squaredDistance(float[] a, float[] b) {
        double sum = 0;
        for (int k = 0; k < a.length; k++) {
            double d = (double) a[k] - b[k];
            sum += d * d;
        }
        return sum;
    }

    private static void requireSquare(String name, double[][] matrix, int n) {
        if (matrix.length != n) {
            throw new IllegalArgumentException(
                    name + " has " + matrix.length + " rows, expected " + n);
        }
        for (int i = 0; i < n; i++) {
            if (matrix[i].length != n) {
                throw new IllegalArgumentException(
                        name
                                + " row "
                                + i
                                + " has "
                                + matrix[i].length
                                + " columns, expected "
                                + n);
            }
        }
    }
}
