package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.metisfl.proto.v1.Task;
import org.metisfl.simulator.RawLearner;

/**
 * What a test waits for with raw learners: a gateway that takes joins again, a restarted gateway's
 * task stream, a round's training task, a model version.
 */
final class RawLearnerWaits {
    private RawLearnerWaits() {}

    /** Joins, retrying while the gateway refuses (it is starting or restarting). */
    static void joinWhenReady(RawLearner l, String name, long examples, Duration wait)
            throws InterruptedException {
        long end = System.nanoTime() + wait.toNanos();
        while (true) {
            try {
                l.join(name, examples);
                return;
            } catch (RuntimeException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** Reopens the task stream until the restarted gateway sends round {@code round}'s task. */
    static void reopenWhenReady(RawLearner l, long round, Duration wait)
            throws InterruptedException {
        long end = System.nanoTime() + wait.toNanos();
        while (true) {
            l.openTaskStream();
            try {
                if (l.nextTask(Task.KindCase.TRAIN, Duration.ofSeconds(3)).getRound() == round) {
                    return;
                }
            } catch (AssertionError e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
            }
        }
    }

    /** Waits until every learner has round {@code round}'s training task (older ones skipped). */
    static void awaitTrain(List<RawLearner> learners, long round, Duration wait)
            throws InterruptedException {
        for (RawLearner l : learners) {
            while (true) {
                Task t = l.nextTask(Task.KindCase.TRAIN, wait);
                assertThat(t).as("a training task for round " + round).isNotNull();
                if (t.getRound() == round) {
                    break;
                }
                assertThat(t.getRound()).isLessThan(round);
            }
        }
    }

    /** Polls the learner's model until its version is at least {@code version}. */
    static RawLearner.Model awaitVersion(RawLearner l, long version, Duration wait)
            throws Exception {
        long end = System.nanoTime() + wait.toNanos();
        while (true) {
            RawLearner.Model m = l.getModel();
            if (m.version() >= version) {
                return m;
            }
            if (System.nanoTime() > end) {
                throw new AssertionError("model version " + m.version() + ", wanted " + version);
            }
            Thread.sleep(20);
        }
    }
}
