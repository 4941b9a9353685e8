package org.metisfl.flink.aggregation.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RobustAggregationTest {

    @Test
    void medianOfAnOddCountIsTheMiddleValuePerCoordinate() {
        List<float[]> updates =
                List.of(new float[] {1f, 9f}, new float[] {5f, 7f}, new float[] {3f, 8f});
        assertThat(RobustAggregation.coordinateMedian(updates)).containsExactly(3f, 8f);
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheTwoMiddleValues() {
        List<float[]> updates =
                List.of(
                        new float[] {1f, -1f},
                        new float[] {4f, -2f},
                        new float[] {2f, -8f},
                        new float[] {10f, 0f});
        assertThat(RobustAggregation.coordinateMedian(updates)).containsExactly(3f, -1.5f);
    }

    @Test
    void medianOfOneOrOfIdenticalUpdatesIsThatUpdate() {
        float[] u = {0.1f, -3f, 7.5f};
        assertThat(RobustAggregation.coordinateMedian(List.of(u))).containsExactly(u);
        assertThat(RobustAggregation.coordinateMedian(List.of(u, u.clone(), u.clone(), u.clone())))
                .containsExactly(u);
    }

    @Test
    void medianMatchesSortingEachCoordinateForRandomInputs() {
        Random random = new Random(11);
        for (int n = 1; n <= 8; n++) {
            List<float[]> updates = KernelTestData.gaussians(random, n, 50);
            float[] median = RobustAggregation.coordinateMedian(updates);
            for (int j = 0; j < 50; j++) {
                double[] column = column(updates, j);
                Arrays.sort(column);
                double expected =
                        n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
                assertThat(median[j]).isEqualTo((float) expected);
            }
        }
    }

    @Test
    void medianIgnoresAHugeOutlier() {
        List<float[]> updates = new ArrayList<>();
        updates.add(new float[] {1.0f, 2.0f});
        updates.add(new float[] {1.1f, 2.1f});
        updates.add(new float[] {0.9f, 1.9f});
        updates.add(new float[] {1e30f, -1e30f});
        updates.add(new float[] {1.05f, 2.05f});
        assertThat(RobustAggregation.coordinateMedian(updates)).containsExactly(1.05f, 2.0f);
    }

    @Test
    void trimmedMeanWithoutTrimmingIsTheMean() {
        List<float[]> updates =
                List.of(new float[] {1f, 2f}, new float[] {2f, 4f}, new float[] {6f, 0f});
        assertThat(RobustAggregation.trimmedMean(updates, 0)).containsExactly(3f, 2f);
    }

    @Test
    void trimmedMeanDropsFloorOfTrimTimesNFromEachEnd() {
        List<float[]> updates =
                List.of(
                        new float[] {100f},
                        new float[] {1f},
                        new float[] {2f},
                        new float[] {3f},
                        new float[] {-50f});
        // floor(0.2 * 5) = 1 dropped from each end: mean of 1, 2, 3
        assertThat(RobustAggregation.trimmedMean(updates, 0.2)).containsExactly(2f);
        // floor(0.19 * 5) = 0: plain mean
        assertThat(RobustAggregation.trimmedMean(updates, 0.19)).containsExactly(11.2f);
        // floor(0.49 * 5) = 2: the median
        assertThat(RobustAggregation.trimmedMean(updates, 0.49)).containsExactly(2f);
    }

    @Test
    void trimmedMeanMatchesDirectComputationForRandomInputs() {
        Random random = new Random(5);
        for (int n = 1; n <= 9; n++) {
            for (double trim : new double[] {0, 0.1, 0.25, 0.4, 0.499}) {
                List<float[]> updates = KernelTestData.gaussians(random, n, 20);
                float[] result = RobustAggregation.trimmedMean(updates, trim);
                int cut = (int) Math.floor(trim * n);
                for (int j = 0; j < 20; j++) {
                    double[] column = column(updates, j);
                    Arrays.sort(column);
                    double expected = Arrays.stream(column, cut, n - cut).average().getAsDouble();
                    assertThat(result[j]).isCloseTo((float) expected, within(1e-6f));
                }
            }
        }
    }

    @Test
    void trimmedMeanIgnoresAHugeOutlier() {
        List<float[]> updates =
                List.of(
                        new float[] {1f},
                        new float[] {2f},
                        new float[] {-1e30f},
                        new float[] {3f},
                        new float[] {2f});
        // the outlier and the largest honest value go: mean of 1, 2, 2
        assertThat(RobustAggregation.trimmedMean(updates, 0.2)).containsExactly((float) (5.0 / 3));
        assertThat(RobustAggregation.trimmedMean(List.of(new float[] {4f}), 0.4))
                .containsExactly(4f);
    }

    @Test
    void rejectsEmptyNullAndUnequalUpdates() {
        assertThatThrownBy(() -> RobustAggregation.coordinateMedian(List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one update");
        assertThatThrownBy(() -> RobustAggregation.trimmedMean(null, 0.1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one update");
        assertThatThrownBy(
                        () ->
                                RobustAggregation.coordinateMedian(
                                        List.of(new float[2], new float[3])))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("update 1 has 3 values, update 0 has 2");
        assertThatThrownBy(
                        () ->
                                RobustAggregation.addPairwiseSquaredDistances(
                                        Arrays.asList(new float[2], null), new double[2][2]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("update 1 is null");
    }

    @Test
    void rejectsTrimOutsideZeroToOneHalf() {
        List<float[]> updates = List.of(new float[1]);
        for (double trim : new double[] {-0.1, 0.5, 1, Double.NaN}) {
            assertThatThrownBy(() -> RobustAggregation.trimmedMean(updates, trim))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("trim must be in [0, 0.5)");
        }
    }

    @Test
    void pairwiseSquaredDistancesMatchDirectComputationAndAccumulate() {
        Random random = new Random(13);
        List<float[]> updates = KernelTestData.gaussians(random, 5, 30);
        double[][] acc = new double[5][5];
        acc[1][3] = 10;
        acc[3][1] = 10;
        RobustAggregation.addPairwiseSquaredDistances(updates, acc);
        for (int i = 0; i < 5; i++) {
            assertThat(acc[i][i]).isZero();
            for (int j = 0; j < 5; j++) {
                double expected = 0;
                for (int k = 0; k < 30; k++) {
                    double d = (double) updates.get(i)[k] - updates.get(j)[k];
                    expected += d * d;
                }
                if ((i == 1 && j == 3) || (i == 3 && j == 1)) {
                    expected += 10;
                }
                assertThat(acc[i][j]).isCloseTo(expected, within(1e-9));
                assertThat(acc[i][j]).isEqualTo(acc[j][i]);
            }
        }
    }

    @Test
    void pairwiseDistancesOverTwoShardsSumToTheDistanceOverTheWholeVector() {
        Random random = new Random(17);
        List<float[]> whole = KernelTestData.gaussians(random, 6, 41);
        List<float[]> left = new ArrayList<>();
        List<float[]> right = new ArrayList<>();
        for (float[] u : whole) {
            left.add(Arrays.copyOfRange(u, 0, 20));
            right.add(Arrays.copyOfRange(u, 20, 41));
        }
        double[][] byShards = new double[6][6];
        RobustAggregation.addPairwiseSquaredDistances(left, byShards);
        RobustAggregation.addPairwiseSquaredDistances(right, byShards);
        double[][] direct = new double[6][6];
        RobustAggregation.addPairwiseSquaredDistances(whole, direct);
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 6; j++) {
                assertThat(byShards[i][j]).isCloseTo(direct[i][j], within(1e-9));
            }
        }
    }

    @Test
    void pairwiseDistancesRejectAnAccumulatorOfTheWrongShape() {
        List<float[]> updates = List.of(new float[2], new float[2], new float[2]);
        assertThatThrownBy(
                        () ->
                                RobustAggregation.addPairwiseSquaredDistances(
                                        updates, new double[2][2]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acc has 2 rows, expected 3");
        assertThatThrownBy(
                        () ->
                                RobustAggregation.addPairwiseSquaredDistances(
                                        updates, new double[3][2]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acc row 0 has 2 columns, expected 3");
    }

    @Test
    void krumScoresSumTheClosestNeighboursAsComputedByHand() {
        // 1-D points 0, 1, 3, 4, 100 with n=5, f=1: each score sums the 2 smallest distances.
        // scores: 0 -> 1+9, 1 -> 1+4, 3 -> 4+1, 4 -> 1+9, 100 -> 96^2+97^2
        double[][] d = distances(List.of(p(0), p(1), p(3), p(4), p(100)));
        assertThat(RobustAggregation.krumSelect(d, 1, 1)).containsExactly(1);
        assertThat(RobustAggregation.krumSelect(d, 1, 3)).containsExactly(1, 2, 0);
        assertThat(RobustAggregation.krumSelect(d, 1, 5)).containsExactly(1, 2, 0, 3, 4);
    }

    @Test
    void krumBreaksTiesByTheLowerIndex() {
        float[] u = {1f, 2f};
        double[][] d = distances(List.of(u, u, u, u, u));
        assertThat(RobustAggregation.krumSelect(d, 1, 1)).containsExactly(0);
        assertThat(RobustAggregation.krumSelect(d, 1, 3)).containsExactly(0, 1, 2);
    }

    @Test
    void krumNeverSelectsAnOutlierAmongClusteredHonestUpdates() {
        Random random = new Random(19);
        for (int trial = 0; trial < 50; trial++) {
            int f = 1 + random.nextInt(3);
            int n = 2 * f + 3 + random.nextInt(4);
            List<float[]> updates = new ArrayList<>();
            List<Integer> byzantine = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                float[] u = KernelTestData.gaussian(random, 10);
                if (i < f) {
                    for (int k = 0; k < u.length; k++) {
                        u[k] = u[k] * 0.1f + 50f;
                    }
                }
                updates.add(u);
            }
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                order.add(i);
            }
            Collections.shuffle(order, random);
            List<float[]> shuffled = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                shuffled.add(updates.get(order.get(i)));
                if (order.get(i) < f) {
                    byzantine.add(i);
                }
            }
            double[][] d = distances(shuffled);
            for (int m = 1; m <= n - f; m++) {
                for (int selected : RobustAggregation.krumSelect(d, f, m)) {
                    assertThat(byzantine).doesNotContain(selected);
                }
            }
        }
    }

    @Test
    void krumRejectsTooFewUpdatesAndBadArguments() {
        double[][] four = new double[4][4];
        assertThatThrownBy(() -> RobustAggregation.krumSelect(four, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Krum needs n > 2f + 2 updates, got n=4 for f=1");
        assertThatThrownBy(() -> RobustAggregation.krumSelect(new double[2][2], 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("n > 2f + 2");
        assertThatThrownBy(() -> RobustAggregation.krumSelect(four, -1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("f must be >= 0");
        assertThatThrownBy(() -> RobustAggregation.krumSelect(four, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("m must be in [1, 4]");
        assertThatThrownBy(() -> RobustAggregation.krumSelect(four, 0, 5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("m must be in [1, 4]");
        assertThatThrownBy(() -> RobustAggregation.krumSelect(new double[4][3], 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("pairwiseSquaredDistances row 0 has 3 columns");
    }

    private static float[] p(float x) {
        return new float[] {x};
    }

    private static double[][] distances(List<float[]> updates) {
        double[][] d = new double[updates.size()][updates.size()];
        RobustAggregation.addPairwiseSquaredDistances(updates, d);
        return d;
    }

    private static double[] column(List<float[]> updates, int j) {
        return updates.stream().mapToDouble(u -> u[j]).toArray();
    }
}
