package org.metisfl.learner.dl4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.metisfl.learner.progress.TrainingProgress;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

class DeepLearning4jAdapterTest {
    private static final int TRAIN_EXAMPLES = 100;
    private static final int TEST_EXAMPLES = 40;
    private static final int BATCH = 16;

    /** A 4-8-2 classifier. */
    private static MultiLayerNetwork network(long seed) {
        MultiLayerConfiguration conf =
                new NeuralNetConfiguration.Builder()
                        .seed(seed)
                        .updater(new Adam(0.01))
                        .weightInit(WeightInit.XAVIER)
                        .list()
                        .layer(
                                new DenseLayer.Builder()
                                        .nIn(4)
                                        .nOut(8)
                                        .activation(Activation.TANH)
                                        .build())
                        .layer(
                                new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                                        .nIn(8)
                                        .nOut(2)
                                        .activation(Activation.SOFTMAX)
                                        .build())
                        .build();
        MultiLayerNetwork network = new MultiLayerNetwork(conf);
        network.init();
        return network;
    }

    /** Two Gaussian blobs in 4-D (class 0 around -1, class 1 around +1), one-hot labels. */
    private static DataSetIterator blobs(int n, long seed) {
        Random random = new Random(seed);
        float[][] features = new float[n][4];
        float[][] labels = new float[n][2];
        for (int i = 0; i < n; i++) {
            int label = i % 2;
            for (int j = 0; j < 4; j++) {
                features[i][j] = (label == 0 ? -1f : 1f) + (float) random.nextGaussian() * 0.8f;
            }
            labels[i][label] = 1f;
        }
        DataSet all = new DataSet(Nd4j.create(features), Nd4j.create(labels));
        return new ListDataSetIterator<>(all.asList(), BATCH);
    }

    private static DeepLearning4jAdapter adapter(long seed) {
        return new DeepLearning4jAdapter(
                network(seed), blobs(TRAIN_EXAMPLES, 1), blobs(TEST_EXAMPLES, 2));
    }

    private static TrainTask steps(long localSteps) {
        return new TrainTask(1, 0, BATCH, 0, localSteps, 0);
    }

    @Test
    void getWeightsCopiesEachParameterInParamTableOrderAsRowMajor() {
        DeepLearning4jAdapter adapter = adapter(7);
        INDArray kernel = adapter.network().getParam("0_W");

        List<NamedTensor> weights = adapter.getWeights();

        assertThat(weights)
                .extracting(NamedTensor::name)
                .containsExactly("0_W", "0_b", "1_W", "1_b");
        assertThat(weights.get(0).shape()).containsExactly(4, 8);
        assertThat(weights.get(2).shape()).containsExactly(8, 2);
        assertThat(weights.get(0).values()[1 * 8 + 3]).isEqualTo(kernel.getFloat(1, 3));
        // A copy: changing it leaves the network alone, and training leaves the copy alone.
        float before = kernel.getFloat(0, 0);
        weights.get(0).values()[0] = 1234f;
        assertThat(adapter.network().getParam("0_W").getFloat(0, 0)).isEqualTo(before);
        List<NamedTensor> snapshot = adapter.getWeights();
        adapter.train(steps(3));
        assertThat(snapshot.get(0).values()[0]).isEqualTo(before);
    }

    @Test
    void setWeightsThenGetWeightsRoundTripsAndTheNetworkComputesWithThem() {
        DeepLearning4jAdapter source = adapter(1);
        DeepLearning4jAdapter target = adapter(2);
        INDArray input = Nd4j.rand(3, 4);

        target.setWeights(source.getWeights());

        List<NamedTensor> copied = target.getWeights();
        List<NamedTensor> original = source.getWeights();
        for (int i = 0; i < original.size(); i++) {
            assertThat(copied.get(i).values()).containsExactly(original.get(i).values());
        }
        assertThat(target.network().output(input).toFloatMatrix())
                .isDeepEqualTo(source.network().output(input).toFloatMatrix());
    }

    @Test
    void setWeightsRejectsUnknownNamesAndWrongShapesNamingTheParameter() {
        DeepLearning4jAdapter adapter = adapter(1);
        List<NamedTensor> renamed = new ArrayList<>(adapter.getWeights());
        renamed.set(1, new NamedTensor("0_bias", new long[] {8}, new float[8]));
        List<NamedTensor> reshaped = new ArrayList<>(adapter.getWeights());
        reshaped.set(0, new NamedTensor("0_W", new long[] {8, 4}, new float[32]));

        assertThatThrownBy(() -> adapter.setWeights(renamed))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no parameter '0_bias'")
                .hasMessageContaining("0_b[8]");
        assertThatThrownBy(() -> adapter.setWeights(reshaped))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'0_W' has shape [4, 8] but the tensor has shape [8, 4]");
        assertThatThrownBy(() -> adapter.setWeights(renamed.subList(0, 2)))
                .hasMessageContaining("expected 4 tensors");
    }

    @Test
    void aFewLocalStepsLowerTheLoss() {
        DeepLearning4jAdapter adapter = adapter(3);
        double before = adapter.evaluate(new EvaluateTask(0, BATCH)).metrics().get("loss");

        TrainResult result = adapter.train(new TrainTask(1, 0, BATCH, 0.05, 40, 0));

        double after = adapter.evaluate(new EvaluateTask(1, BATCH)).metrics().get("loss");
        assertThat(after).isLessThan(before * 0.8);
        assertThat(result.metrics()).containsKey("loss");
        assertThat(adapter.network().getLearningRate(0)).isCloseTo(0.05, within(1e-9));
    }

    @Test
    void fedProxProximalTermKeepsTheWeightsNearTheGlobalModel() {
        DeepLearning4jAdapter plain = adapter(5);
        DeepLearning4jAdapter prox = adapter(5);
        INDArray start = plain.network().params().dup();

        plain.train(new TrainTask(1, 0, BATCH, 0.05, 30, 0, 0.0));
        prox.train(new TrainTask(1, 0, BATCH, 0.05, 30, 0, 50.0));

        double plainDrift = plain.network().params().distance2(start);
        double proxDrift = prox.network().params().distance2(start);
        assertThat(plainDrift).isGreaterThan(0);
        assertThat(proxDrift).isLessThan(plainDrift * 0.5);
        // The proximal term is removed after the task: the next plain task drifts freely again.
        assertThat(prox.network().getListeners()).isEmpty();
    }

    @Test
    void trainingReportsItsSpeedForSemiSynchronousRounds() {
        TrainResult result = adapter(6).train(steps(5));
        assertThat(result.metrics().get("ms_per_batch")).isPositive();
        // 100 examples in batches of 16: an epoch is 7 batches.
        assertThat(result.metrics().get("ms_per_epoch"))
                .isCloseTo(7 * result.metrics().get("ms_per_batch"), within(1e-6));
    }

    @Test
    void localStepsAreHonouredExactlyCyclingThroughTheData() {
        DeepLearning4jAdapter adapter = adapter(4);
        int iterationsBefore = adapter.network().getIterationCount();

        // 100 examples in batches of 16: 6 full batches and one of 4 per pass.
        TrainResult result = adapter.train(steps(10));

        assertThat(result.numCompletedBatches()).isEqualTo(10);
        assertThat(result.numTrainingExamples()).isEqualTo(100 + 3 * 16);
        assertThat(adapter.network().getIterationCount() - iterationsBefore).isEqualTo(10);
    }

    @Test
    void epochsMakeFullPassesOverTheTrainingData() {
        DeepLearning4jAdapter adapter = adapter(5);

        TrainResult result = adapter.train(new TrainTask(1, 2, BATCH, 0, 0, 0));

        assertThat(result.numCompletedBatches()).isEqualTo(14);
        assertThat(result.numTrainingExamples()).isEqualTo(200);
        assertThat(adapter.network().getEpochCount()).isEqualTo(2);
    }

    /** The mini-batch sizes the network is fitted on, in order. */
    private static List<Long> recordBatchSizes(DeepLearning4jAdapter adapter) {
        List<Long> sizes = new ArrayList<>();
        adapter.network()
                .setListeners(
                        new BaseTrainingListener() {
                            @Override
                            public void onForwardPass(Model model, List<INDArray> activations) {
                                sizes.add(activations.get(0).size(0));
                            }
                        });
        return sizes;
    }

    private static DeepLearning4jAdapter adapter(long seed, List<String> lines) {
        return new DeepLearning4jAdapter(
                network(seed),
                blobs(TRAIN_EXAMPLES, 1),
                blobs(TEST_EXAMPLES, 2),
                TrainingProgress.lines(lines::add, System::nanoTime, Duration.ofHours(1)));
    }

    @Test
    void epochsUseTheControllersBatchSizeNotTheIterators() {
        List<String> lines = new ArrayList<>();
        DeepLearning4jAdapter adapter = adapter(8, lines);
        List<Long> sizes = recordBatchSizes(adapter);

        // The iterator yields 16; the controller asks for 32: 100 = 32 + 32 + 32 + 4 per epoch.
        TrainResult result = adapter.train(new TrainTask(1, 2, 32, 0, 0, 0));

        assertThat(sizes).containsExactly(32L, 32L, 32L, 4L, 32L, 32L, 32L, 4L);
        assertThat(result.numCompletedBatches()).isEqualTo(8);
        assertThat(result.numTrainingExamples()).isEqualTo(200);
        assertThat(result.metrics().get("ms_per_epoch"))
                .isCloseTo(4 * result.metrics().get("ms_per_batch"), within(1e-6));
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("round 1: epoch 1/2, 4/4 batches, mean loss ");
        assertThat(lines.get(1)).startsWith("round 1: epoch 2/2, 4/4 batches, mean loss ");
        assertThat(adapter.progress().totals().batches()).isEqualTo(8);
        assertThat(adapter.progress().totals().examples()).isEqualTo(200);

        // Smaller than the iterator's: its batches are split. No batch size: the iterator's.
        sizes.clear();
        adapter.train(new TrainTask(2, 1, 10, 0, 0, 0));
        assertThat(sizes).hasSize(10).containsOnly(10L);
        sizes.clear();
        adapter.train(new TrainTask(3, 1, 0, 0, 0, 0));
        assertThat(sizes).containsExactly(16L, 16L, 16L, 16L, 16L, 16L, 4L);
    }

    @Test
    void localStepsUseTheControllersBatchSizeAndCycle() {
        DeepLearning4jAdapter adapter = adapter(9, new ArrayList<>());
        List<Long> sizes = recordBatchSizes(adapter);

        TrainResult result = adapter.train(new TrainTask(1, 0, 32, 0, 5, 0));

        assertThat(sizes).containsExactly(32L, 32L, 32L, 4L, 32L);
        assertThat(result.numTrainingExamples()).isEqualTo(132);

        // The next run goes on where this one stopped (100 = 32 + 32 + 32 + 4 per pass).
        sizes.clear();
        adapter.train(new TrainTask(2, 0, 32, 0, 4, 0));
        assertThat(sizes).containsExactly(32L, 32L, 4L, 32L);
    }

    @Test
    void rebatchingKeepsEveryExampleOnceInOrder() {
        int n = 23;
        List<DataSet> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            rows.add(
                    new DataSet(
                            Nd4j.create(new float[][] {{i}}), Nd4j.create(new float[][] {{i}})));
        }
        for (int source : new int[] {1, 5, 7, 23, 40}) {
            for (int target : new int[] {1, 4, 7, 10, 30}) {
                var batches =
                        new DeepLearning4jAdapter.Rebatching(
                                new ListDataSetIterator<>(rows, source), target);
                List<Float> seen = new ArrayList<>();
                List<Integer> sizes = new ArrayList<>();
                while (batches.hasNext()) {
                    DataSet b = batches.next();
                    sizes.add(b.numExamples());
                    for (float v : b.getFeatures().toFloatVector()) {
                        seen.add(v);
                    }
                }
                List<Float> expected = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    expected.add((float) i);
                }
                assertThat(seen).as("%d -> %d", source, target).isEqualTo(expected);
                List<Integer> expectedSizes = new ArrayList<>();
                for (int left = n; left > 0; left -= target) {
                    expectedSizes.add(Math.min(target, left));
                }
                assertThat(sizes).as("%d -> %d", source, target).isEqualTo(expectedSizes);
            }
        }
    }

    @Test
    void evaluateReportsAccuracyInTheUnitIntervalOverAllTestExamples() {
        DeepLearning4jAdapter adapter = adapter(6);

        EvaluationResult result = adapter.evaluate(new EvaluateTask(0, BATCH));

        assertThat(result.numExamples()).isEqualTo(TEST_EXAMPLES);
        assertThat(result.metrics().get("accuracy")).isBetween(0.0, 1.0);
        assertThat(result.metrics().get("loss")).isPositive();
        // Evaluating twice gives the same answer: the iterator is reset each time.
        assertThat(adapter.evaluate(new EvaluateTask(0, BATCH)).metrics())
                .isEqualTo(result.metrics());
    }

    @Test
    void countsLocalExamplesFromTheIterators() {
        DeepLearning4jAdapter adapter = adapter(7);

        assertThat(adapter.numTrainingExamples()).isEqualTo(TRAIN_EXAMPLES);
        assertThat(adapter.numTestExamples()).isEqualTo(TEST_EXAMPLES);
    }
}
