package org.metisfl.cli.e2e;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/**
 * A model whose training is a pure function of (learner, round): training adds a fixed delta to the
 * weights it was given, so a federation's every global model is known in advance ({@link
 * #expectedGlobal}) and any lost or doubled update shows. Tests can hold a learner at the start of
 * a round ({@link #holdAt}) to act while a round is open.
 */
final class DeterministicModel implements ModelAdapter {
    static final String TENSOR = "dense/kernel";

    private final int index;
    private final int size;
    private final long examples;
    private final long trainMillis;
    private float[] weights;

    private volatile long holdRound = -1;
    private volatile CountDownLatch release = new CountDownLatch(0);
    private final CountDownLatch reachedHold = new CountDownLatch(1);
    private final Map<Long, Integer> trainedRounds = new ConcurrentHashMap<>();
    private volatile float[] lastReceived;

    DeterministicModel(int index, int size, long examples, long trainMillis) {
        this.index = index;
        this.size = size;
        this.examples = examples;
        this.trainMillis = trainMillis;
        this.weights = initial(size);
    }

    /** Every learner starts from the same weights, so any of them may give the initial model. */
    static float[] initial(int size) {
        float[] w = new float[size];
        for (int k = 0; k < size; k++) {
            w[k] = 0.1f * (float) Math.sin(k * 0.37);
        }
        return w;
    }

    /** What learner {@code index} adds to weight {@code k} in {@code round}. */
    static float delta(int index, long round, int k) {
        return (float) (0.01 * (index + 1) * Math.cos(k * 0.013 + round * 0.7 + index));
    }

    /**
     * The global model after {@code rounds} rounds of FedAvg over learners with these example
     * counts, all contributing every round (computed like the job: sums in double, then float).
     */
    static float[] expectedGlobal(int size, long[] examples, int rounds) {
        float[] g = initial(size);
        double total = 0;
        for (long e : examples) {
            total += e;
        }
        for (int r = 1; r <= rounds; r++) {
            float[] next = new float[size];
            for (int k = 0; k < size; k++) {
                double sum = 0;
                for (int i = 0; i < examples.length; i++) {
                    float update = g[k] + delta(i, r, k);
                    sum += examples[i] * (double) update;
                }
                next[k] = (float) (sum / total);
            }
            g = next;
        }
        return g;
    }

    /** The next train task of {@code round} blocks until {@link #release()}. */
    void holdAt(long round) {
        release = new CountDownLatch(1);
        holdRound = round;
    }

    void release() {
        release.countDown();
    }

    /** Waits until the learner is held at its hold round. */
    boolean awaitHeld(long timeout, TimeUnit unit) throws InterruptedException {
        return reachedHold.await(timeout, unit);
    }

    /** How often each round was trained (a round trained twice was re-sent by the job). */
    Map<Long, Integer> trainedRounds() {
        return trainedRounds;
    }

    /** The last global model the learner was given (after the last round: the final model). */
    float[] lastReceived() {
        return lastReceived;
    }

    @Override
    public synchronized List<NamedTensor> getWeights() {
        return List.of(new NamedTensor(TENSOR, new long[] {size}, weights.clone()));
    }

    @Override
    public synchronized void setWeights(List<NamedTensor> w) {
        weights = w.get(0).values().clone();
        lastReceived = weights.clone();
    }

    @Override
    public TrainResult train(TrainTask task) {
        if (task.round() == holdRound) {
            reachedHold.countDown();
            try {
                if (!release.await(5, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("never released from round " + holdRound);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        try {
            Thread.sleep(trainMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        synchronized (this) {
            for (int k = 0; k < size; k++) {
                weights[k] += delta(index, task.round(), k);
            }
        }
        trainedRounds.merge(task.round(), 1, Integer::sum);
        return new TrainResult(examples, 1, Map.of("loss", 1.0 / task.round()));
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        return new EvaluationResult(
                examples, Map.of("accuracy", Math.min(1.0, task.round() / 10.0)));
    }

    @Override
    public long numTrainingExamples() {
        return examples;
    }

    @Override
    public long numTestExamples() {
        return examples;
    }
}
