package org.metisfl.examples.experiment;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

class SlowedAdapterTest {
    /** Trains by sleeping 40 ms and reports 10 ms per batch. */
    private static final class Sleeper implements ModelAdapter {
        @Override
        public List<NamedTensor> getWeights() {
            return List.of();
        }

        @Override
        public void setWeights(List<NamedTensor> weights) {}

        @Override
        public TrainResult train(TrainTask task) {
            try {
                Thread.sleep(40);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return new TrainResult(4, 4, Map.of("ms_per_batch", 10.0, "ms_per_epoch", 40.0));
        }

        @Override
        public EvaluationResult evaluate(EvaluateTask task) {
            return new EvaluationResult(1, Map.of());
        }

        @Override
        public long numTrainingExamples() {
            return 4;
        }

        @Override
        public long numTestExamples() {
            return 1;
        }
    }

    @Test
    void aSlowedLearnerTakesLongerAndSaysSo() {
        SlowedAdapter slow = new SlowedAdapter(new Sleeper(), 3);
        long start = System.nanoTime();
        TrainResult r = slow.train(new TrainTask(1, 1, 4, 0, 0, 0));
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertThat(ms).isGreaterThanOrEqualTo(115);
        assertThat(r.metrics())
                .containsEntry("ms_per_batch", 30.0)
                .containsEntry("ms_per_epoch", 120.0);
    }
}
