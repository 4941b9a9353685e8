package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ModelsTest {

    @Test
    void sameSeedGivesIdenticalInitialWeights() {
        assertThat(Models.mlp(42).params()).isEqualTo(Models.mlp(42).params());
        assertThat(Models.cnn(42).params()).isEqualTo(Models.cnn(42).params());
        assertThat(Models.mlp(43).params()).isNotEqualTo(Models.mlp(42).params());
    }

    @Test
    void modelsHaveTheDocumentedSizes() {
        assertThat(Models.mlp(1).numParams()).isEqualTo(784 * 128 + 128 + 128 * 10 + 10);
        assertThat(Models.cnn(1).numParams())
                .isEqualTo((5 * 5 * 8 + 8) + (5 * 5 * 8 * 16 + 16) + (4 * 4 * 16 * 10 + 10));
    }

    @Test
    void bothModelsMapFlatImagesToClassProbabilities() {
        INDArray batch = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 3, 784);
        for (MultiLayerNetwork network : new MultiLayerNetwork[] {Models.mlp(1), Models.cnn(1)}) {
            INDArray out = network.output(batch);

            assertThat(out.shape()).containsExactly(3, 10);
            for (double sum : out.sum(1).toDoubleVector()) {
                assertThat(sum).isBetween(0.999, 1.001);
            }
        }
    }
}
