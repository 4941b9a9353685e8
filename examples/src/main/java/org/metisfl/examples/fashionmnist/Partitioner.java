package org.metisfl.examples.fashionmnist;

import java.util.Arrays;
import java.util.Random;

/**
 * Splits the examples of a data set into disjoint parts, one per learner, the way federated
 * learning experiments simulate clients: IID (a seeded shuffle cut into near-equal parts) or
 * non-IID with per-class proportions drawn from a Dirichlet(α) distribution.
 *
 * <p>Each part is an array of example indices in ascending order. The same arguments always give
 * the same parts, so learners started separately agree on the split without talking to each other.
 *
 * <pre>{@code
 * int[][] parts = Partitioner.dirichlet(data.train().labels(), 10, 5, 0.5, 42);
 * int[] mine = parts[learnerIndex];
 * }</pre>
 */
public final class Partitioner {

    /** How many times Dirichlet proportions are re-drawn before empty parts are fixed up. */
    static final int MAX_DRAWS = 10;

    private Partitioner() {}

    /** The partitioning schemes offered on the command line. */
    public enum Scheme {
        IID,
        DIRICHLET
    }

    /**
     * Shuffles {@code 0..numExamples-1} with {@code seed} and cuts the result into {@code numParts}
     * parts whose sizes differ by at most one.
     */
    public static int[][] iid(int numExamples, int numParts, long seed) {
        checkSizes(numExamples, numParts);
        int[] order = identity(numExamples);
        shuffle(order, new Random(seed));
        int[][] parts = new int[numParts][];
        int base = numExamples / numParts;
        int extra = numExamples % numParts;
        int from = 0;
        for (int p = 0; p < numParts; p++) {
            int size = base + (p < extra ? 1 : 0);
            parts[p] = Arrays.copyOfRange(order, from, from + size);
            Arrays.sort(parts[p]);
            from += size;
        }
        return parts;
    }

    /**
     * For each class, draws the shares of the {@code numParts} parts from Dirichlet({@code alpha})
     * and deals that class's (shuffled) examples accordingly. Small α gives each part few classes;
     * large α approaches IID.
     *
     * <p>Every example lands in exactly one part and no part is empty: if a draw leaves a part
     * empty, the proportions are re-drawn (from the same seeded stream) up to {@value MAX_DRAWS}
     * times; after that, each empty part takes one example from the currently largest part.
     *
     * @param labels the class of each example, in {@code 0..numClasses-1}
     */
    public static int[][] dirichlet(
            int[] labels, int numClasses, int numParts, double alpha, long seed) {
        checkSizes(labels.length, numParts);
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException(
                    "alpha must be a positive finite number, got " + alpha);
        }
        int[][] byClass = indicesByClass(labels, numClasses);
        Random random = new Random(seed);
        int[] owner = new int[labels.length];
        int[] sizes = new int[numParts];
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            Arrays.fill(sizes, 0);
            for (int[] members : byClass) {
                int[] shuffled = members.clone();
                shuffle(shuffled, random);
                double[] shares = sampleDirichlet(numParts, alpha, random);
                deal(shuffled, shares, owner, sizes);
            }
            if (Arrays.stream(sizes).allMatch(s -> s > 0)) {
                break;
            }
        }
        fillEmptyParts(owner, sizes);
        return collect(owner, sizes);
    }

    /** Per part, how many examples of each class it holds: {@code [part][class]}. */
    public static int[][] classCounts(int[][] parts, int[] labels, int numClasses) {
        int[][] counts = new int[parts.length][numClasses];
        for (int p = 0; p < parts.length; p++) {
            for (int i : parts[p]) {
                counts[p][labels[i]]++;
            }
        }
        return counts;
    }

    private static void checkSizes(int numExamples, int numParts) {
        if (numParts < 1) {
            throw new IllegalArgumentException("the number of parts must be >= 1, got " + numParts);
        }
        if (numExamples < numParts) {
            throw new IllegalArgumentException(
                    "cannot split "
                            + numExamples
                            + " examples into "
                            + numParts
                            + " non-empty parts; use fewer learners or more examples");
        }
    }

    private static int[][] indicesByClass(int[] labels, int numClasses) {
        int[] counts = new int[numClasses];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException(
                        "label " + labels[i] + " of example " + i + " is outside 0.." + numClasses);
            }
            counts[labels[i]]++;
        }
        int[][] byClass = new int[numClasses][];
        for (int c = 0; c < numClasses; c++) {
            byClass[c] = new int[counts[c]];
        }
        int[] fill = new int[numClasses];
        for (int i = 0; i < labels.length; i++) {
            byClass[labels[i]][fill[labels[i]]++] = i;
        }
        return byClass;
    }

    /** Gives part p the slice of {@code members} between cumulative shares p-1 and p. */
    private static void deal(int[] members, double[] shares, int[] owner, int[] sizes) {
        int n = members.length;
        double cumulative = 0;
        int from = 0;
        for (int p = 0; p < shares.length; p++) {
            cumulative += shares[p];
            int to = p == shares.length - 1 ? n : (int) Math.min(n, Math.round(cumulative * n));
            to = Math.max(to, from);
            for (int k = from; k < to; k++) {
                owner[members[k]] = p;
            }
            sizes[p] += to - from;
            from = to;
        }
    }

    /**
     * Deterministic fix-up: each empty part takes the highest-index example of the largest part.
     */
    private static void fillEmptyParts(int[] owner, int[] sizes) {
        for (int empty = 0; empty < sizes.length; empty++) {
            if (sizes[empty] > 0) {
                continue;
            }
            int largest = 0;
            for (int p = 1; p < sizes.length; p++) {
                if (sizes[p] > sizes[largest]) {
                    largest = p;
                }
            }
            for (int i = owner.length - 1; i >= 0; i--) {
                if (owner[i] == largest) {
                    owner[i] = empty;
                    break;
                }
            }
            sizes[largest]--;
            sizes[empty]++;
        }
    }

    private static int[][] collect(int[] owner, int[] sizes) {
        int[][] parts = new int[sizes.length][];
        for (int p = 0; p < sizes.length; p++) {
            parts[p] = new int[sizes[p]];
        }
        int[] fill = new int[sizes.length];
        for (int i = 0; i < owner.length; i++) {
            parts[owner[i]][fill[owner[i]]++] = i;
        }
        return parts;
    }

    /**
     * Dirichlet(α,…,α) as normalised Gamma(α) draws, computed in log space: for α &lt; 1 the Gamma
     * draws underflow to zero in plain doubles.
     */
    static double[] sampleDirichlet(int k, double alpha, Random random) {
        double[] logs = new double[k];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < k; i++) {
            logs[i] = logGamma(alpha, random);
            max = Math.max(max, logs[i]);
        }
        double sum = 0;
        double[] shares = new double[k];
        for (int i = 0; i < k; i++) {
            shares[i] = Math.exp(logs[i] - max);
            sum += shares[i];
        }
        for (int i = 0; i < k; i++) {
            shares[i] /= sum;
        }
        return shares;
    }

    /**
     * The logarithm of a Gamma(shape, 1) draw (Marsaglia and Tsang, 2000); shapes below 1 use
     * Gamma(a) = Gamma(a + 1) · U^(1/a).
     */
    private static double logGamma(double shape, Random random) {
        if (shape < 1) {
            double u = 1 - random.nextDouble(); // in (0, 1]
            return logGamma(shape + 1, random) + Math.log(u) / shape;
        }
        double d = shape - 1.0 / 3.0;
        double c = 1.0 / Math.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = random.nextGaussian();
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1 - random.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
                return Math.log(d * v);
            }
        }
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** Fisher-Yates with the given stream (not Collections.shuffle, to stay on int[]). */
    static void shuffle(int[] a, Random random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
