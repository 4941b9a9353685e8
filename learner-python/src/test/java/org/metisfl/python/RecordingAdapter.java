package org.metisfl.python;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/** Wraps a Java learner's adapter; records the global models it receives and its updates. */
final class RecordingAdapter implements ModelAdapter {
    final Map<Long, float[]> globals = new ConcurrentHashMap<>();
    final Map<Long, float[]> updates = new ConcurrentHashMap<>();
    final Map<Long, Long> examples = new ConcurrentHashMap<>();
    private final ModelAdapter inner;
    private float[] pending;

    RecordingAdapter(ModelAdapter inner) {
        this.inner = inner;
    }

    static float[] flat(List<NamedTensor> tensors) {
        int n = 0;
        for (NamedTensor t : tensors) {
            n += t.values().length;
        }
        float[] out = new float[n];
        int offset = 0;
        for (NamedTensor t : tensors) {
            System.arraycopy(t.values(), 0, out, offset, t.values().length);
            offset += t.values().length;
        }
        return out;
    }

    private void global(long version) {
        if (pending != null) {
            globals.put(version, pending);
            pending = null;
        }
    }

    @Override
    public List<NamedTensor> getWeights() {
        return inner.getWeights();
    }

    @Override
    public void setWeights(List<NamedTensor> weights) {
        inner.setWeights(weights);
        pending = flat(weights);
    }

    @Override
    public TrainResult train(TrainTask task) {
        global(task.round() - 1);
        TrainResult r = inner.train(task);
        updates.put(task.round(), flat(inner.getWeights()));
        examples.put(task.round(), r.numTrainingExamples());
        return r;
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        global(task.round());
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
