package org.metisfl.examples.experiment;

import org.metisfl.examples.fashionmnist.Partitioner;

/**
 * How far a partition's parts are from the whole data set's label distribution: per part the total
 * variation distance {@code 1/2 sum_c |p_part(c) - p_all(c)|} (0 for identical distributions, 1 for
 * disjoint ones), and the number of classes that hold 90% of a part's examples.
 *
 * <pre>{@code
 * LabelSkew s = LabelSkew.of(Partitioner.dirichlet(labels, 10, 10, 0.1, 42), labels, 10);
 * s.meanTotalVariation(); // about 0.7 for Fashion-MNIST
 * }</pre>
 *
 * @param meanTotalVariation mean over parts of the total variation distance to the whole
 * @param meanClassesFor90 mean over parts of the fewest classes covering 90% of the part
 */
public record LabelSkew(double meanTotalVariation, double meanClassesFor90) {

    /** Measures {@code parts} (indices into {@code labels}). */
    public static LabelSkew of(int[][] parts, int[] labels, int numClasses) {
        double[] all = new double[numClasses];
        for (int label : labels) {
            all[label] += 1.0 / labels.length;
        }
        int[][] counts = Partitioner.classCounts(parts, labels, numClasses);
        double tv = 0;
        double classes = 0;
        for (int p = 0; p < parts.length; p++) {
            double size = parts[p].length;
            double d = 0;
            for (int c = 0; c < numClasses; c++) {
                d += Math.abs(counts[p][c] / size - all[c]);
            }
            tv += d / 2;
            int[] sorted = counts[p].clone();
            java.util.Arrays.sort(sorted);
            int covered = 0;
            int k = 0;
            for (int c = numClasses - 1; c >= 0 && covered < 0.9 * size; c--) {
                covered += sorted[c];
                k++;
            }
            classes += k;
        }
        return new LabelSkew(tv / parts.length, classes / parts.length);
    }
}
