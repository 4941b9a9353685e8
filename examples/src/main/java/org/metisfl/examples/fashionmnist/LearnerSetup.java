package org.metisfl.examples.fashionmnist;

import java.util.Arrays;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * Everything one Fashion-MNIST learner trains with, built from its command line: the initial
 * network and iterators over its part of the training and test sets.
 *
 * <p>The training part follows {@code --partition}; the test set is always split IID across the
 * learners, so the example-weighted mean of the learners' test accuracies is the accuracy on the
 * whole (possibly limited) test set.
 *
 * <pre>{@code
 * FashionMnist data = FashionMnist.load();          // shared by in-process learners
 * LearnerSetup setup = LearnerSetup.of(LearnerArgs.parse(argv), data);
 * setup.network().fit(setup.train());
 * }</pre>
 *
 * @param network the initialised model; identical for all learners with the same seed
 * @param train this learner's training examples, reshuffled on every reset
 * @param test this learner's test examples, in file order
 */
public record LearnerSetup(
        MultiLayerNetwork network, FashionMnistIterator train, FashionMnistIterator test) {

    /** Loads the data named by {@code args} (honouring its limits) and builds the setup. */
    public static LearnerSetup of(LearnerArgs args) {
        FashionMnist data = FashionMnist.load(args.dataDir(), args.trainLimit(), args.testLimit());
        return of(args, data);
    }

    /**
     * Builds the setup from already loaded data; {@code --train-limit} and {@code --test-limit}
     * still apply (to the first examples of {@code data}).
     *
     * @throws IllegalArgumentException if a (limited) set has fewer examples than learners
     */
    public static LearnerSetup of(LearnerArgs args, FashionMnist data) {
        FashionMnist.Split trainSplit = data.train();
        FashionMnist.Split testSplit = data.test();
        int numTrain = limit(trainSplit.size(), args.trainLimit());
        int numTest = limit(testSplit.size(), args.testLimit());
        int i = args.learnerIndex();
        int n = args.learners();

        int[] trainPart =
                switch (args.partition()) {
                    case IID -> Partitioner.iid(numTrain, n, args.seed())[i];
                    case DIRICHLET -> {
                        int[] labels = Arrays.copyOf(trainSplit.labels(), numTrain);
                        yield Partitioner.dirichlet(
                                labels, FashionMnist.NUM_CLASSES, n, args.alpha(), args.seed())[i];
                    }
                };
        // A different stream from the training split's, so the test split is not correlated with
        // it when both sets are limited to the same size.
        int[] testPart = Partitioner.iid(numTest, n, args.seed() + 1)[i];

        MultiLayerNetwork network = args.model().build(args.seed());
        // Each learner visits its examples in its own order; the weights start identical.
        long shuffleSeed = args.seed() * 1_000_003L + i;
        return new LearnerSetup(
                network,
                FashionMnistIterator.train(trainSplit, trainPart, args.batchSize(), shuffleSeed),
                FashionMnistIterator.test(testSplit, testPart, args.batchSize()));
    }

    private static int limit(int size, int limit) {
        return limit > 0 ? Math.min(size, limit) : size;
    }
}
