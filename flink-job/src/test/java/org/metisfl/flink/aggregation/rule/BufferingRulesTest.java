package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Payload;

/** Median, trimmed mean, FedStride and Krum as rule classes: results, merge and state. */
class BufferingRulesTest {

    @Test
    void medianAndTrimmedMeanMatchSortedColumns() {
        float[][] u = RuleTestData.updates(4, 7, 30);
        double[] w = new double[7];
        Arrays.fill(w, 1);
        float[] median = new Median().result(RuleTestData.addAll(new Median(), u, w)).values();
        TrimmedMean tm = new TrimmedMean(0.3); // drops floor(2.1) = 2 at each end
        float[] trimmed = tm.result(RuleTestData.addAll(tm, u, w)).values();
        for (int j = 0; j < 30; j++) {
            double[] col = new double[7];
            for (int i = 0; i < 7; i++) {
                col[i] = u[i][j];
            }
            Arrays.sort(col);
            assertThat((double) median[j]).isEqualTo(col[3]);
            assertThat((double) trimmed[j]).isCloseTo((col[2] + col[3] + col[4]) / 3, within(1e-6));
        }
    }

    @Test
    void fedStrideEqualsFedAvgAndMergesFoldedBlocks() {
        float[][] u = RuleTestData.updates(5, 5, 20);
        double[] w = {1, 2, 3, 4, 5};
        FedStride stride = new FedStride(2);
        FedStride.Strides acc = RuleTestData.addAll(stride, u, w);
        assertThat(acc.buffered()).isEqualTo(1);
        float[] fedavg = new FedAvg().result(RuleTestData.addAll(new FedAvg(), u, w)).values();
        FedStride.Strides a = stride.createAccumulator();
        FedStride.Strides b = stride.createAccumulator();
        for (int i = 0; i < 5; i++) {
            stride.add(i % 2 == 0 ? a : b, "l" + i, Payload.dense(u[i]), w[i]);
        }
        float[] merged = stride.result(stride.merge(a, b)).values();
        float[] whole = stride.result(acc).values();
        for (int j = 0; j < 20; j++) {
            assertThat(whole[j]).isEqualTo(fedavg[j]); // same order of additions
            assertThat(merged[j]).isCloseTo(fedavg[j], within(1e-6f));
        }
    }

    @Test
    void fedStrideStateKeepsItsUnfoldedBlockThroughASavepoint() throws Exception {
        FedStride stride = new FedStride(3);
        FedStride.Strides acc =
                RuleTestData.addAll(
                        stride, RuleTestData.updates(6, 4, 10), new double[] {1, 1, 2, 2});
        FedStride.Strides back = RuleTestData.throughSavepoint(stride.accumulatorSerializer(), acc);
        assertThat(back.buffered()).isEqualTo(1);
        assertThat(stride.result(back).values()).containsExactly(stride.result(acc).values());
    }

    @Test
    void krumSelectsTheClosestUpdatesFromSummedShardDistances() throws Exception {
        // Five learners, one far away; the model split over two shards of 3 and 2 values.
        float[][] whole = {
            {1, 1, 1, 1, 1},
            {1.2f, 1, 1.1f, 1, 0.9f},
            {0.8f, 1, 1, 1.1f, 1},
            {1.1f, 0.9f, 1, 1, 1},
            {100, -50, 30, 80, 9}
        };
        Krum krum = new Krum(1, 3, true);
        Updates[] shards = {krum.createAccumulator(), krum.createAccumulator()};
        for (int i = 0; i < 5; i++) {
            krum.add(shards[0], "l" + i, Payload.dense(Arrays.copyOfRange(whole[i], 0, 3)), 1);
            krum.add(shards[1], "l" + i, Payload.dense(Arrays.copyOfRange(whole[i], 3, 5)), 1);
        }
        List<String> contributors = List.of("l0", "l1", "l2", "l3", "l4");
        double[] total = new double[25];
        for (Updates s : shards) {
            double[] part =
                    krum.partial(
                            RuleTestData.throughSavepoint(krum.accumulatorSerializer(), s),
                            contributors);
            for (int k = 0; k < 25; k++) {
                total[k] += part[k];
            }
        }
        // Independently: score(i) = sum of the n - f - 2 = 2 smallest squared distances.
        double[] score = new double[5];
        for (int i = 0; i < 5; i++) {
            double[] d = new double[4];
            for (int j = 0, k = 0; j < 5; j++) {
                if (j != i) {
                    double s = 0;
                    for (int c = 0; c < 5; c++) {
                        s += Math.pow((double) whole[i][c] - whole[j][c], 2);
                    }
                    d[k++] = s;
                }
            }
            Arrays.sort(d);
            score[i] = d[0] + d[1];
        }
        Integer[] order = {0, 1, 2, 3, 4};
        Arrays.sort(order, (x, y) -> Double.compare(score[x], score[y]));
        List<String> expected = Arrays.stream(order).limit(3).map(i -> "l" + i).sorted().toList();
        List<String> chosen = krum.select(total, contributors, 1);
        assertThat(chosen).isEqualTo(expected).doesNotContain("l4");
        float[] first = krum.resultOf(shards[0], chosen).values();
        for (int c = 0; c < 3; c++) {
            double mean = 0;
            for (String l : chosen) {
                mean += whole[Integer.parseInt(l.substring(1))][c] / 3.0;
            }
            assertThat((double) first[c]).isCloseTo(mean, within(1e-6));
        }
    }
}
