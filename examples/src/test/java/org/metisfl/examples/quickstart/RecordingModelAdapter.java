package org.metisfl.examples.quickstart;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.metisfl.learner.Learner;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/**
 * A model adapter that records the plaintext it hands out and receives, in order, so a test can
 * recompute each global model from the learners' own updates; it can close its learner while
 * training a given task (a learner killed before it uploads).
 */
final class RecordingModelAdapter implements ModelAdapter {
    /** One trained update: the weights handed out after training and the training's result. */
    record Update(float[] values, TrainResult result) {}

    private final ModelAdapter inner;
    private final int killInTraining;

    /** The learner to close when {@code killInTraining} comes; set before it starts. */
    final AtomicReference<Learner> learner = new AtomicReference<>();

    final List<Update> updates = new CopyOnWriteArrayList<>();

    /** Every model set, and the number of updates made before it. */
    final List<Map.Entry<Integer, float[]>> globals = new CopyOnWriteArrayList<>();

    volatile boolean killed;

    private TrainResult trained;
    private int trainings;

    /** Records, never kills; {@code inner} may be null for a learner that never trains. */
    RecordingModelAdapter(ModelAdapter inner) {
        this(inner, 0);
    }

    /** Closes the learner during its {@code killInTraining}-th training (from 1; 0: never). */
    RecordingModelAdapter(ModelAdapter inner, int killInTraining) {
        this.inner = inner;
        this.killInTraining = killInTraining;
    }

    /** The first global model this learner loaded after its k-th update (from 0). */
    float[] globalAfterUpdate(int k) {
        for (Map.Entry<Integer, float[]> g : globals) {
            if (g.getKey() > k) {
                return g.getValue();
            }
        }
        throw new AssertionError("no global model after update " + k + ": " + globals.size());
    }

    @Override
    public synchronized List<NamedTensor> getWeights() {
        List<NamedTensor> w = inner.getWeights();
        if (trained != null) {
            updates.add(new Update(flat(w), trained));
            trained = null;
        }
        return w;
    }

    @Override
    public synchronized void setWeights(List<NamedTensor> weights) {
        globals.add(Map.entry(updates.size(), flat(weights)));
        inner.setWeights(weights);
    }

    @Override
    public synchronized TrainResult train(TrainTask task) {
        trainings++;
        if (trainings == killInTraining) {
            // called on the learner's own thread: the learner stops as soon as training
            // returns, before it uploads anything
            killed = true;
            learner.get().close();
            return inner.train(task);
        }
        trained = inner.train(task);
        return trained;
    }

    @Override
    public EvaluationResult evaluate(EvaluateTask task) {
        return inner.evaluate(task);
    }

    @Override
    public long numTrainingExamples() {
        return inner == null ? 100 : inner.numTrainingExamples();
    }

    @Override
    public long numTestExamples() {
        return inner == null ? 10 : inner.numTestExamples();
    }

    private static float[] flat(List<NamedTensor> tensors) {
        int n = tensors.stream().mapToInt(NamedTensor::size).sum();
        float[] out = new float[n];
        int at = 0;
        for (NamedTensor t : tensors) {
            System.arraycopy(t.values(), 0, out, at, t.size());
            at += t.size();
        }
        return out;
    }
}
