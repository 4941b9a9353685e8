package org.metisfl.examples.fashionmnist;

import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Mini-batches over one learner's part of a Fashion-MNIST split: features {@code [batch, 784]} in
 * [0, 1], one-hot labels {@code [batch, 10]}, the last batch possibly smaller.
 *
 * <p>A training iterator visits its examples in a new seeded order after every {@link #reset()}, so
 * runs are repeatable; a test iterator keeps ascending index order.
 *
 * <pre>{@code
 * DataSetIterator train = FashionMnistIterator.train(data.train(), parts[i], 64, 42);
 * DataSetIterator test = FashionMnistIterator.test(data.test(), testParts[i], 64);
 * }</pre>
 */
public final class FashionMnistIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;

    private final transient FashionMnist.Split split;
    private final int[] indices;
    private final int batchSize;
    private final Random random;
    private transient DataSetPreProcessor preProcessor;
    private int cursor;

    private FashionMnistIterator(
            FashionMnist.Split split, int[] indices, int batchSize, Random random) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (indices.length == 0) {
            throw new IllegalArgumentException("a learner's data part must not be empty");
        }
        for (int i : indices) {
            if (i < 0 || i >= split.size()) {
                throw new IllegalArgumentException(
                        "example index " + i + " is outside 0.." + (split.size() - 1));
            }
        }
        this.split = split;
        this.indices = indices.clone();
        this.batchSize = batchSize;
        this.random = random;
        if (random != null) {
            Partitioner.shuffle(this.indices, random);
        }
    }

    /** Shuffled (with {@code seed}) at creation and again on every {@link #reset()}. */
    public static FashionMnistIterator train(
            FashionMnist.Split split, int[] indices, int batchSize, long seed) {
        return new FashionMnistIterator(split, indices, batchSize, new Random(seed));
    }

    /** In the given order, every pass the same. */
    public static FashionMnistIterator test(
            FashionMnist.Split split, int[] indices, int batchSize) {
        return new FashionMnistIterator(split, indices, batchSize, null);
    }

    /** Number of examples per pass. */
    public int numExamples() {
        return indices.length;
    }

    @Override
    public boolean hasNext() {
        return cursor < indices.length;
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        if (!hasNext()) {
            throw new NoSuchElementException("the pass is over; call reset()");
        }
        int n = Math.min(num, indices.length - cursor);
        float[] features = new float[n * FashionMnist.IMAGE_SIZE];
        float[] labels = new float[n * FashionMnist.NUM_CLASSES];
        for (int k = 0; k < n; k++) {
            int example = indices[cursor + k];
            split.copyImage(example, features, k * FashionMnist.IMAGE_SIZE);
            labels[k * FashionMnist.NUM_CLASSES + split.label(example)] = 1f;
        }
        cursor += n;
        INDArray x = Nd4j.create(features, new long[] {n, FashionMnist.IMAGE_SIZE}, 'c');
        INDArray y = Nd4j.create(labels, new long[] {n, FashionMnist.NUM_CLASSES}, 'c');
        DataSet batch = new DataSet(x, y);
        if (preProcessor != null) {
            preProcessor.preProcess(batch);
        }
        return batch;
    }

    @Override
    public int inputColumns() {
        return FashionMnist.IMAGE_SIZE;
    }

    @Override
    public int totalOutcomes() {
        return FashionMnist.NUM_CLASSES;
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    /**
     * Batches are cheap to build from memory; DL4J's asynchronous prefetch would only add a thread
     * and make the order of {@code reset()} calls harder to follow.
     */
    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        cursor = 0;
        if (random != null) {
            Partitioner.shuffle(indices, random);
        }
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return new ArrayList<>(FashionMnist.CLASS_NAMES);
    }

    @Override
    public String toString() {
        return "FashionMnistIterator{examples="
                + indices.length
                + ", batchSize="
                + batchSize
                + ", shuffled="
                + (random != null)
                + "}";
    }
}
