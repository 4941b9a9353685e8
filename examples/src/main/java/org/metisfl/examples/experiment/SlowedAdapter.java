package org.metisfl.examples.experiment;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/**
 * A learner made {@code factor} times slower, to play a straggler: after each local training it
 * waits (factor - 1) times as long as the training took, and reports its speed accordingly.
 */
public final class SlowedAdapter implements ModelAdapter {
    private final ModelAdapter inner;
    private final double factor;

    public SlowedAdapter(ModelAdapter inner, double factor) {
        if (!(factor >= 1)) {
            throw new IllegalArgumentException("slowdown factor must be >= 1, was " + factor);
        }
        this.inner = inner;
        this.factor = factor;
    }

    @Override
    public TrainResult train(TrainTask task) {
        long start = System.nanoTime();
        TrainResult r = inner.train(task);
        long took = System.nanoTime() - start;
        try {
            Thread.sleep((long) ((factor - 1) * took / 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Map<String, Double> metrics = new HashMap<>(r.metrics());
        metrics.computeIfPresent("ms_per_batch", (k, v) -> v * factor);
        metrics.computeIfPresent("ms_per_epoch", (k, v) -> v * factor);
        return new TrainResult(r.numTrainingExamples(), r.numCompletedBatches(), metrics);
    }

    @Override
    public List<NamedTensor> getWeights() {
        return inner.getWeights();
    }

    @Override
    public void setWeights(List<NamedTensor> weights) {
        inner.setWeights(weights);
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        return inner.evaluate(task);
    }

    @Override
    public long numTrainingExamples() {
        return inner.numTrainingExamples();
    }

    @Override
    public long numTestExamples() {
        return inner.numTestExamples();
    }
}
