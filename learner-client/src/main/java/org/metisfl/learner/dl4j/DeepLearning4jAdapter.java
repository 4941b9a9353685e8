package org.metisfl.learner.dl4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.progress.TrainingProgress;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ModelAdapter} for a DL4J {@link MultiLayerNetwork} with local training and test data as
 * {@link DataSetIterator}s. The weights travel as one tensor per entry of the network's {@code
 * paramTable()} ({@code 0_W}, {@code 0_b}, ...), in row-major order.
 *
 * <pre>{@code
 * MultiLayerNetwork network = new MultiLayerNetwork(configuration);
 * network.init();
 * ModelAdapter model = new DeepLearning4jAdapter(network, trainIterator, testIterator);
 * }</pre>
 *
 * <p>Training uses the task's {@code batchSize} (the controller's {@code train.batch-size}): the
 * training iterator's batches are re-cut to it when they differ; a task without one keeps the
 * iterator's. Each epoch shows its progress through {@link TrainingProgress}. Classification models
 * only: {@link #evaluate} reports accuracy. Not thread-safe, like the network; the learner calls it
 * from one thread.
 */
public final class DeepLearning4jAdapter implements ModelAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(DeepLearning4jAdapter.class);

    private final MultiLayerNetwork network;
    private final DataSetIterator train;
    private final DataSetIterator test;
    private final TrainingProgress progress;
    private Batches stepBatches;
    private long numTrainingExamples = -1;
    private long numTestExamples = -1;

    public DeepLearning4jAdapter(
            MultiLayerNetwork network, DataSetIterator train, DataSetIterator test) {
        this(network, train, test, TrainingProgress.auto(LOG::info));
    }

    /**
     * As {@link #DeepLearning4jAdapter(MultiLayerNetwork, DataSetIterator, DataSetIterator)}, with
     * the way local training is shown (default: {@link TrainingProgress#auto}).
     */
    public DeepLearning4jAdapter(
            MultiLayerNetwork network,
            DataSetIterator train,
            DataSetIterator test,
            TrainingProgress progress) {
        this.progress = Objects.requireNonNull(progress, "progress");
        this.network = Objects.requireNonNull(network, "network");
        this.train = Objects.requireNonNull(train, "train");
        this.test = Objects.requireNonNull(test, "test");
        if (network.params() == null) {
            throw new IllegalArgumentException(
                    "network has no parameters yet: call network.init() before creating the"
                            + " adapter");
        }
    }

    /** The network this adapter trains. */
    public MultiLayerNetwork network() {
        return network;
    }

    @Override
    public List<NamedTensor> getWeights() {
        Map<String, INDArray> table = network.paramTable();
        List<NamedTensor> weights = new ArrayList<>(table.size());
        for (Map.Entry<String, INDArray> e : table.entrySet()) {
            // paramTable() entries are views of the live parameters: copy them out.
            INDArray copy = e.getValue().castTo(DataType.FLOAT).dup('c');
            weights.add(new NamedTensor(e.getKey(), copy.shape(), copy.data().asFloat()));
        }
        return weights;
    }

    @Override
    public void setWeights(List<NamedTensor> weights) {
        Map<String, INDArray> table = network.paramTable();
        if (weights.size() != table.size()) {
            throw new IllegalArgumentException(
                    "expected "
                            + table.size()
                            + " tensors "
                            + describe(table)
                            + " but got "
                            + weights.size()
                            + " "
                            + weights);
        }
        for (NamedTensor w : weights) {
            INDArray param = table.get(w.name());
            if (param == null) {
                throw new IllegalArgumentException(
                        "the network has no parameter '"
                                + w.name()
                                + "'; its parameters are "
                                + describe(table));
            }
            if (!Arrays.equals(param.shape(), w.shape())) {
                throw new IllegalArgumentException(
                        "parameter '"
                                + w.name()
                                + "' has shape "
                                + Arrays.toString(param.shape())
                                + " but the tensor has shape "
                                + Arrays.toString(w.shape()));
            }
        }
        for (NamedTensor w : weights) {
            INDArray value = Nd4j.create(w.values(), w.shape(), 'c');
            INDArray param = table.get(w.name());
            network.setParam(w.name(), value.castTo(param.dataType()));
        }
    }

    @Override
    public TrainResult train(TrainTask task) {
        if (task.learningRate() > 0) {
            network.setLearningRate(task.learningRate());
        }
        if (!(task.proximalMu() > 0)) {
            return task.localSteps() > 0 ? trainSteps(task) : trainEpochs(task);
        }
        // FedProx: add the proximal term's gradient mu (w - w_global) before every update.
        ProximalTerm proximal = new ProximalTerm(network.params().dup(), task.proximalMu());
        java.util.Collection<org.deeplearning4j.optimize.api.TrainingListener> before =
                new java.util.ArrayList<>(network.getListeners());
        java.util.List<org.deeplearning4j.optimize.api.TrainingListener> with =
                new java.util.ArrayList<>(before);
        with.add(proximal);
        network.setListeners(with);
        try {
            return task.localSteps() > 0 ? trainSteps(task) : trainEpochs(task);
        } finally {
            network.setListeners(before);
        }
    }

    /** Adds mu (w - w_global) to the gradient once it is computed, before the updater runs. */
    private static final class ProximalTerm
            extends org.deeplearning4j.optimize.api.BaseTrainingListener {
        private final INDArray global;
        private final double mu;

        ProximalTerm(INDArray global, double mu) {
            this.global = global;
            this.mu = mu;
        }

        @Override
        public void onGradientCalculation(org.deeplearning4j.nn.api.Model model) {
            INDArray gradient = model.gradient().gradient();
            gradient.addi(model.params().sub(global).muli(mu));
        }
    }

    private TrainResult trainEpochs(TrainTask task) {
        long trainStart = System.nanoTime();
        int epochs = Math.max(1, task.epochs());
        if (task.epochs() < 1) {
            LOG.warn("round {}: the task asks for {} epochs; training 1", task.round(), epochs);
        }
        int batchSize = batchSize(task);
        long batchesPerEpoch = batchesPerEpoch(batchSize);
        long examples = 0;
        long batches = 0;
        double weightedLoss = 0;
        stepBatches = null;
        for (int epoch = 1; epoch <= epochs; epoch++) {
            resetIfPossible(train);
            Iterator<DataSet> data = batches(batchSize).iterator;
            try (TrainingProgress.Epoch progress =
                    this.progress.epoch(task.round(), epoch, epochs, batchesPerEpoch)) {
                while (data.hasNext()) {
                    DataSet batch = data.next();
                    network.fit(batch);
                    int n = batch.numExamples();
                    double loss = network.score();
                    weightedLoss += loss * n;
                    examples += n;
                    batches++;
                    progress.batch(n, loss);
                }
            }
            network.incrementEpochCount();
        }
        return result(examples, batches, weightedLoss, System.nanoTime() - trainStart, batchSize);
    }

    private TrainResult trainSteps(TrainTask task) {
        long start = System.nanoTime();
        int batchSize = batchSize(task);
        long examples = 0;
        double weightedLoss = 0;
        long steps = 0;
        // Counted first: counting passes over (and resets) the training iterator.
        numTrainingExamples();
        // Local steps go on where the last run stopped, so that short runs still cover all data.
        if (stepBatches == null || stepBatches.size != batchSize) {
            stepBatches = batches(batchSize);
        }
        Iterator<DataSet> data = stepBatches.iterator;
        try (TrainingProgress.Epoch progress =
                this.progress.steps(task.round(), task.localSteps())) {
            while (steps < task.localSteps()) {
                if (!data.hasNext()) {
                    // Cycle: local steps may span several passes over the local data.
                    if (!train.resetSupported()) {
                        throw new IllegalStateException(
                                "the training iterator ran out after "
                                        + steps
                                        + " of "
                                        + task.localSteps()
                                        + " local steps and does not support reset(); use a"
                                        + " resettable DataSetIterator");
                    }
                    train.reset();
                    stepBatches = batches(batchSize);
                    data = stepBatches.iterator;
                    if (!data.hasNext()) {
                        throw new IllegalStateException(
                                "the training iterator yielded no examples; check the local"
                                        + " training data");
                    }
                }
                DataSet batch = data.next();
                network.fit(batch);
                int n = batch.numExamples();
                double loss = network.score();
                weightedLoss += loss * n;
                examples += n;
                steps++;
                progress.batch(n, loss);
            }
        }
        return result(
                examples, task.localSteps(), weightedLoss, System.nanoTime() - start, batchSize);
    }

    /**
     * The mini-batch size for a task: the controller's {@code train.batch-size} when it sets one,
     * else the iterator's own.
     */
    private int batchSize(TrainTask task) {
        return task.batchSize() > 0 ? task.batchSize() : Math.max(1, train.batch());
    }

    private long batchesPerEpoch(int batchSize) {
        return (numTrainingExamples() + batchSize - 1) / batchSize;
    }

    /** The rest of the pass over the training data, in mini-batches of {@code size}. */
    private record Batches(int size, Iterator<DataSet> iterator) {}

    private Batches batches(int batchSize) {
        return new Batches(
                batchSize, batchSize == train.batch() ? train : new Rebatching(train, batchSize));
    }

    /**
     * Re-cuts an iterator's batches to another size: merges small ones, splits large ones, keeps
     * the order of the examples; the last batch of a pass may be smaller.
     */
    static final class Rebatching implements Iterator<DataSet> {
        private final Iterator<DataSet> source;
        private final int size;
        private final List<DataSet> pending = new ArrayList<>();
        private int pendingExamples;

        Rebatching(Iterator<DataSet> source, int size) {
            if (size < 1) {
                throw new IllegalArgumentException("batch size must be positive, got " + size);
            }
            this.source = source;
            this.size = size;
        }

        @Override
        public boolean hasNext() {
            return pendingExamples > 0 || source.hasNext();
        }

        @Override
        public DataSet next() {
            while (pendingExamples < size && source.hasNext()) {
                DataSet d = source.next();
                if (d.numExamples() > 0) {
                    pending.add(d);
                    pendingExamples += d.numExamples();
                }
            }
            if (pendingExamples == 0) {
                throw new java.util.NoSuchElementException();
            }
            DataSet all = pending.size() == 1 ? pending.get(0) : DataSet.merge(pending);
            pending.clear();
            int n = all.numExamples();
            if (n <= size) {
                pendingExamples = 0;
                return all;
            }
            pending.add(rows(all, size, n));
            pendingExamples = n - size;
            return rows(all, 0, size);
        }

        /** Examples {@code from} (inclusive) to {@code to} (exclusive), rank kept. */
        private static DataSet rows(DataSet d, int from, int to) {
            return new DataSet(
                    rows(d.getFeatures(), from, to),
                    rows(d.getLabels(), from, to),
                    rows(d.getFeaturesMaskArray(), from, to),
                    rows(d.getLabelsMaskArray(), from, to));
        }

        private static INDArray rows(INDArray a, int from, int to) {
            if (a == null) {
                return null;
            }
            INDArrayIndex[] index = new INDArrayIndex[a.rank()];
            index[0] = NDArrayIndex.interval(from, to);
            for (int i = 1; i < index.length; i++) {
                index[i] = NDArrayIndex.all();
            }
            return a.get(index).dup();
        }
    }

    /**
     * The result with the timings a semi-synchronous controller sizes local work by: {@code
     * ms_per_batch} and {@code ms_per_epoch} (one pass over the local training data).
     */
    private TrainResult result(
            long examples, long batches, double weightedLoss, long nanos, int batchSize) {
        if (examples == 0) {
            throw new IllegalStateException(
                    "the training iterator yielded no examples; check the local training data");
        }
        double msPerBatch = nanos / 1e6 / Math.max(1, batches);
        return new TrainResult(
                examples,
                batches,
                Map.of(
                        "loss",
                        weightedLoss / examples,
                        "ms_per_batch",
                        msPerBatch,
                        "ms_per_epoch",
                        msPerBatch * batchesPerEpoch(batchSize)));
    }

    /** How local training is shown: a bar on a terminal, lines in a log; totals for a summary. */
    public TrainingProgress progress() {
        return progress;
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        resetIfPossible(test);
        Evaluation evaluation = network.evaluate(test);
        resetIfPossible(test);
        long examples = 0;
        double weightedLoss = 0;
        while (test.hasNext()) {
            DataSet batch = test.next();
            int n = batch.numExamples();
            weightedLoss += network.score(batch, false) * n;
            examples += n;
        }
        if (examples == 0) {
            throw new IllegalStateException(
                    "the test iterator yielded no examples; check the local test data");
        }
        return new EvaluationResult(
                examples,
                Map.of("accuracy", evaluation.accuracy(), "loss", weightedLoss / examples));
    }

    @Override
    public long numTrainingExamples() {
        if (numTrainingExamples < 0) {
            numTrainingExamples = count(train);
        }
        return numTrainingExamples;
    }

    @Override
    public long numTestExamples() {
        if (numTestExamples < 0) {
            numTestExamples = count(test);
        }
        return numTestExamples;
    }

    private static long count(DataSetIterator iterator) {
        resetIfPossible(iterator);
        long n = 0;
        while (iterator.hasNext()) {
            n += iterator.next().numExamples();
        }
        resetIfPossible(iterator);
        return n;
    }

    private static void resetIfPossible(DataSetIterator iterator) {
        if (iterator.resetSupported()) {
            iterator.reset();
        }
    }

    private static String describe(Map<String, INDArray> table) {
        List<String> parts = new ArrayList<>(table.size());
        table.forEach((name, value) -> parts.add(name + Arrays.toString(value.shape())));
        return parts.toString();
    }
}
