package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

class FashionMnistIteratorTest {

    private static FashionMnist.Split test;

    @BeforeAll
    static void load() {
        test = FashionMnist.load(FashionMnist.DEFAULT_DIR, 1, 1000).test();
    }

    @Test
    void batchesHoldScaledImagesAndOneHotLabelsWithASmallerLastBatch() {
        int[] indices = {5, 1, 7, 3, 9};
        FashionMnistIterator it = FashionMnistIterator.test(test, indices, 2);

        List<DataSet> batches = drain(it);

        assertThat(batches).extracting(DataSet::numExamples).containsExactly(2, 2, 1);
        DataSet first = batches.get(0);
        assertThat(first.getFeatures().shape()).containsExactly(2, 784);
        assertThat(first.getLabels().shape()).containsExactly(2, 10);
        assertThat(first.getFeatures().getRow(1).toFloatVector()).containsExactly(test.image(1));
        assertThat(first.getLabels().getRow(0).toFloatVector())
                .containsExactly(oneHot(test.label(5)));
        assertThat(batches.get(2).getLabels().getRow(0).toFloatVector())
                .containsExactly(oneHot(test.label(9)));
    }

    @Test
    void testIteratorReplaysTheSameOrderAfterReset() {
        FashionMnistIterator it = FashionMnistIterator.test(test, range(100), 32);
        List<Integer> first = labelsOf(drain(it));
        it.reset();
        assertThat(labelsOf(drain(it))).isEqualTo(first);
        assertThat(first.subList(0, 6)).containsExactly(9, 2, 1, 1, 6, 1);
    }

    @Test
    void trainIteratorReshufflesEachEpochRepeatablyForASeed() {
        FashionMnistIterator a = FashionMnistIterator.train(test, range(1000), 50, 7);
        FashionMnistIterator b = FashionMnistIterator.train(test, range(1000), 50, 7);

        List<Integer> epoch1 = labelsOf(drain(a));
        a.reset();
        List<Integer> epoch2 = labelsOf(drain(a));
        List<Integer> other1 = labelsOf(drain(b));

        assertThat(epoch1).isEqualTo(other1).isNotEqualTo(epoch2);
        assertThat(epoch1).hasSize(1000);
        assertThat(epoch1).containsExactlyInAnyOrderElementsOf(epoch2);
        assertThat(a.numExamples()).isEqualTo(1000);
    }

    private static List<DataSet> drain(FashionMnistIterator it) {
        List<DataSet> out = new ArrayList<>();
        while (it.hasNext()) {
            out.add(it.next());
        }
        return out;
    }

    private static List<Integer> labelsOf(List<DataSet> batches) {
        List<Integer> labels = new ArrayList<>();
        for (DataSet batch : batches) {
            int[] argMax = batch.getLabels().argMax(1).toIntVector();
            for (int label : argMax) {
                labels.add(label);
            }
        }
        return labels;
    }

    private static int[] range(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static float[] oneHot(int label) {
        float[] v = new float[10];
        v[label] = 1f;
        return v;
    }
}
