package org.metisfl.examples.fashionmnist;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

/**
 * The two Fashion-MNIST models of the example, as initialised DL4J networks. Both take a flat row
 * of 784 floats per image and output 10 class probabilities.
 *
 * <p>The seed fixes the initial weights: every learner that builds a model with the same seed
 * starts from the same weights, as federated averaging expects.
 */
public final class Models {

    /** Adam's learning rate for both models. */
    public static final double LEARNING_RATE = 1e-3;

    private Models() {}

    /** The model kinds offered on the command line. */
    public enum Kind {
        MLP,
        CNN;

        public MultiLayerNetwork build(long seed) {
            return this == MLP ? mlp(seed) : cnn(seed);
        }
    }

    /** 784-128-10 perceptron: ReLU hidden layer, softmax output, cross-entropy, Adam 1e-3. */
    public static MultiLayerNetwork mlp(long seed) {
        MultiLayerConfiguration conf =
                base(seed)
                        .list()
                        .layer(
                                new DenseLayer.Builder()
                                        .nIn(FashionMnist.IMAGE_SIZE)
                                        .nOut(128)
                                        .activation(Activation.RELU)
                                        .build())
                        .layer(output(128))
                        .build();
        return init(conf);
    }

    /**
     * A small CNN: conv 5x5x8 (ReLU) → max-pool 2x2 → conv 5x5x16 (ReLU) → max-pool 2x2 → softmax
     * over 10 classes; cross-entropy, Adam 1e-3. 5,994 parameters.
     */
    public static MultiLayerNetwork cnn(long seed) {
        MultiLayerConfiguration conf =
                base(seed)
                        .list()
                        .layer(
                                new ConvolutionLayer.Builder(5, 5)
                                        .nOut(8)
                                        .stride(1, 1)
                                        .activation(Activation.RELU)
                                        .build())
                        .layer(
                                new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                                        .kernelSize(2, 2)
                                        .stride(2, 2)
                                        .build())
                        .layer(
                                new ConvolutionLayer.Builder(5, 5)
                                        .nOut(16)
                                        .stride(1, 1)
                                        .activation(Activation.RELU)
                                        .build())
                        .layer(
                                new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                                        .kernelSize(2, 2)
                                        .stride(2, 2)
                                        .build())
                        .layer(
                                new OutputLayer.Builder(LossFunction.MCXENT)
                                        .nOut(FashionMnist.NUM_CLASSES)
                                        .activation(Activation.SOFTMAX)
                                        .build())
                        // Flat 784-float rows in, reshaped to 1x28x28 by a preprocessor, so both
                        // models share one data pipeline.
                        .setInputType(
                                InputType.convolutionalFlat(
                                        FashionMnist.ROWS, FashionMnist.COLUMNS, 1))
                        .build();
        return init(conf);
    }

    private static NeuralNetConfiguration.Builder base(long seed) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(LEARNING_RATE));
    }

    private static OutputLayer output(int nIn) {
        return new OutputLayer.Builder(LossFunction.MCXENT)
                .nIn(nIn)
                .nOut(FashionMnist.NUM_CLASSES)
                .activation(Activation.SOFTMAX)
                .build();
    }

    private static MultiLayerNetwork init(MultiLayerConfiguration conf) {
        MultiLayerNetwork network = new MultiLayerNetwork(conf);
        network.init();
        return network;
    }
}
