package org.metisfl.learner;

import java.util.concurrent.CompletableFuture;

/** Runs a learner on a thread of its own, as an application would, for tests. */
final class LearnerThreads {
    private LearnerThreads() {}

    /** {@link Learner#run()} on a daemon thread; its summary, or what it threw. */
    static CompletableFuture<LearnerSummary> runAsync(Learner learner) {
        CompletableFuture<LearnerSummary> result = new CompletableFuture<>();
        Thread thread =
                new Thread(
                        () -> {
                            try {
                                result.complete(learner.run());
                            } catch (Throwable t) {
                                result.completeExceptionally(t);
                            }
                        },
                        "learner-run");
        thread.setDaemon(true);
        thread.start();
        return result;
    }
}
