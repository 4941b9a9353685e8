package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PartitionerTest {

    private static int[] trainLabels;

    @BeforeAll
    static void load() {
        trainLabels = FashionMnist.load(FashionMnist.DEFAULT_DIR, 0, 1).train().labels();
    }

    @Test
    void iidPartsAreDisjointCoverEverythingAndDifferInSizeByAtMostOne() {
        int[][] parts = Partitioner.iid(60_000, 7, 42);

        assertThat(parts).hasNumberOfRows(7);
        assertCoversEachExampleOnce(parts, 60_000);
        int[] sizes = Arrays.stream(parts).mapToInt(p -> p.length).toArray();
        assertThat(IntStream.of(sizes).max().getAsInt() - IntStream.of(sizes).min().getAsInt())
                .isLessThanOrEqualTo(1);
        for (int[] part : parts) {
            assertThat(part).isSorted();
        }
    }

    @Test
    void iidIsDeterministicForASeedAndChangesWithTheSeed() {
        assertThat(Partitioner.iid(10_000, 3, 42)).isDeepEqualTo(Partitioner.iid(10_000, 3, 42));
        assertThat(Partitioner.iid(10_000, 3, 43)[0])
                .isNotEqualTo(Partitioner.iid(10_000, 3, 42)[0]);
    }

    @Test
    void iidIsAShuffleNotAContiguousCut() {
        int[] first = Partitioner.iid(60_000, 2, 42)[0];
        assertThat(first[first.length - 1]).isGreaterThan(50_000);
    }

    @Test
    void dirichletPutsEveryExampleInExactlyOnePartAndLeavesNoPartEmpty() {
        for (double alpha : new double[] {0.05, 0.1, 0.5, 5}) {
            int[][] parts = Partitioner.dirichlet(trainLabels, 10, 10, alpha, 42);

            assertCoversEachExampleOnce(parts, trainLabels.length);
            assertThat(Arrays.stream(parts).mapToInt(p -> p.length).min().getAsInt()).isPositive();
        }
    }

    @Test
    void dirichletIsDeterministicForASeed() {
        assertThat(Partitioner.dirichlet(trainLabels, 10, 5, 0.5, 7))
                .isDeepEqualTo(Partitioner.dirichlet(trainLabels, 10, 5, 0.5, 7));
        assertThat(Partitioner.dirichlet(trainLabels, 10, 5, 0.5, 8)[0])
                .isNotEqualTo(Partitioner.dirichlet(trainLabels, 10, 5, 0.5, 7)[0]);
    }

    @Test
    void smallAlphaSkewsTheLabelDistributionsFarMoreThanIid() {
        double iid = meanDistanceFromGlobal(Partitioner.iid(trainLabels.length, 10, 42));
        double skewed = meanDistanceFromGlobal(Partitioner.dirichlet(trainLabels, 10, 10, 0.1, 42));
        double mild = meanDistanceFromGlobal(Partitioner.dirichlet(trainLabels, 10, 10, 100, 42));

        assertThat(iid).isLessThan(0.03);
        assertThat(skewed).isGreaterThan(0.5);
        assertThat(mild).isLessThan(0.15);
    }

    @Test
    void emptyPartsAreFilledWhenThereAreBarelyEnoughExamples() {
        int[] labels = Arrays.copyOf(trainLabels, 12);
        int[][] parts = Partitioner.dirichlet(labels, 10, 12, 0.01, 3);

        assertCoversEachExampleOnce(parts, 12);
        assertThat(Arrays.stream(parts).mapToInt(p -> p.length)).containsOnly(1);
        assertThat(parts).isDeepEqualTo(Partitioner.dirichlet(labels, 10, 12, 0.01, 3));
    }

    @Test
    void rejectsMorePartsThanExamplesAndNonPositiveAlpha() {
        assertThatThrownBy(() -> Partitioner.iid(3, 4, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot split 3 examples into 4 non-empty parts");
        assertThatThrownBy(() -> Partitioner.dirichlet(trainLabels, 10, 4, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("alpha");
    }

    @Test
    void dirichletSharesArePositiveAndSumToOneEvenForTinyAlpha() {
        java.util.Random random = new java.util.Random(1);
        for (double alpha : new double[] {0.001, 0.1, 1, 10}) {
            double[] shares = Partitioner.sampleDirichlet(10, alpha, random);
            assertThat(Arrays.stream(shares).sum())
                    .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
            assertThat(Arrays.stream(shares).allMatch(s -> s >= 0 && s <= 1)).isTrue();
        }
    }

    /** Mean over parts of the total-variation distance between a part's and the global labels. */
    private static double meanDistanceFromGlobal(int[][] parts) {
        int[][] counts = Partitioner.classCounts(parts, trainLabels, 10);
        double[] global = new double[10];
        for (int label : trainLabels) {
            global[label] += 1.0 / trainLabels.length;
        }
        double sum = 0;
        for (int p = 0; p < parts.length; p++) {
            double tv = 0;
            for (int c = 0; c < 10; c++) {
                tv += Math.abs((double) counts[p][c] / parts[p].length - global[c]);
            }
            sum += tv / 2;
        }
        return sum / parts.length;
    }

    private static void assertCoversEachExampleOnce(int[][] parts, int numExamples) {
        int[] seen = new int[numExamples];
        for (int[] part : parts) {
            for (int i : part) {
                seen[i]++;
            }
        }
        assertThat(seen).containsOnly(1);
    }
}
