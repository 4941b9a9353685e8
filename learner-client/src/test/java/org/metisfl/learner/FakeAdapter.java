package org.metisfl.learner;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/** A model whose "training" adds 1 to every weight, so uploaded updates are predictable. */
final class FakeAdapter implements ModelAdapter {
    static final long TRAINING_EXAMPLES = 120;
    static final long TEST_EXAMPLES = 40;

    private List<NamedTensor> weights;
    final List<TrainTask> trainTasks = new CopyOnWriteArrayList<>();
    final List<EvaluateTask> evaluateTasks = new CopyOnWriteArrayList<>();
    final List<List<NamedTensor>> weightsSet = new CopyOnWriteArrayList<>();

    private FakeAdapter(List<NamedTensor> weights) {
        this.weights = weights;
    }

    /** A model of these tensors. */
    static FakeAdapter of(List<NamedTensor> weights) {
        return new FakeAdapter(weights);
    }

    /** Three tensors of odd sizes: 23 floats, 92 bytes. */
    static FakeAdapter small() {
        return new FakeAdapter(model(0f));
    }

    /** One tensor of {@code floats} values. */
    static FakeAdapter large(int floats) {
        float[] values = new float[floats];
        for (int i = 0; i < floats; i++) {
            values[i] = i % 1000;
        }
        return new FakeAdapter(List.of(new NamedTensor("big", new long[] {floats}, values)));
    }

    /** The small model's shapes, every value {@code base + index}. */
    static List<NamedTensor> model(float base) {
        return List.of(
                tensor("dense/kernel", new long[] {3, 5}, base),
                tensor("dense/bias", new long[] {7}, base + 100),
                tensor("scale", new long[] {1}, base + 200));
    }

    private static NamedTensor tensor(String name, long[] shape, float base) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = base + i;
        }
        return new NamedTensor(name, shape, values);
    }

    static List<NamedTensor> plusOne(List<NamedTensor> tensors) {
        List<NamedTensor> out = new ArrayList<>();
        for (NamedTensor t : tensors) {
            float[] v = t.values().clone();
            for (int i = 0; i < v.length; i++) {
                v[i] += 1;
            }
            out.add(new NamedTensor(t.name(), t.shape(), v));
        }
        return out;
    }

    @Override
    public synchronized List<NamedTensor> getWeights() {
        List<NamedTensor> copy = new ArrayList<>();
        for (NamedTensor t : weights) {
            copy.add(new NamedTensor(t.name(), t.shape(), t.values().clone()));
        }
        return copy;
    }

    @Override
    public synchronized void setWeights(List<NamedTensor> newWeights) {
        weightsSet.add(newWeights);
        weights = newWeights;
    }

    @Override
    public synchronized TrainResult train(TrainTask task) {
        trainTasks.add(task);
        weights = plusOne(weights);
        long batches = task.localSteps() > 0 ? task.localSteps() : 4L * task.epochs();
        return new TrainResult(TRAINING_EXAMPLES, batches, Map.of("loss", 0.5));
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        evaluateTasks.add(task);
        return new EvaluationResult(TEST_EXAMPLES, Map.of("accuracy", 0.75, "loss", 0.625));
    }

    @Override
    public long numTrainingExamples() {
        return TRAINING_EXAMPLES;
    }

    @Override
    public long numTestExamples() {
        return TEST_EXAMPLES;
    }
}
