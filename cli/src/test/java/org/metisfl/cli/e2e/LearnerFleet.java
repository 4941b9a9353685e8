package org.metisfl.cli.e2e;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;

/**
 * Learners of the real learner library, each on its own thread in the test JVM, with {@link
 * DeterministicModel}s and short reconnect backoffs (they ride out job restarts by themselves).
 */
final class LearnerFleet implements AutoCloseable {
    static final LearnerOptions OPTIONS =
            LearnerOptions.builder()
                    .transportSecurity(org.metisfl.transport.TransportSecurity.insecure())
                    .callTimeout(Duration.ofSeconds(10))
                    .transferTimeout(Duration.ofSeconds(90))
                    .reconnectInitialBackoff(Duration.ofMillis(200))
                    .reconnectMaxBackoff(Duration.ofSeconds(1))
                    .keepAliveTime(Duration.ofSeconds(10))
                    .build();

    final List<DeterministicModel> models = new ArrayList<>();
    final List<Learner> learners = new ArrayList<>();
    final List<CompletableFuture<LearnerSummary>> runs = new ArrayList<>();
    final long[] examples;

    /** Learner i has {@code examples[i]} examples and is named {@code learner-i}. */
    LearnerFleet(List<String> gateways, int size, long[] examples, long trainMillis) {
        this(gateways, size, examples, trainMillis, OPTIONS);
    }

    /** As above, with these learner options (e.g. {@link #OPTIONS} with a CKKS key bundle). */
    LearnerFleet(
            List<String> gateways,
            int size,
            long[] examples,
            long trainMillis,
            LearnerOptions options) {
        this.examples = examples.clone();
        for (int i = 0; i < examples.length; i++) {
            DeterministicModel m = new DeterministicModel(i, size, examples[i], trainMillis);
            models.add(m);
            learners.add(
                    Learner.builder()
                            .gateways(gateways)
                            .name("learner-" + i)
                            .adapter(m)
                            .options(options)
                            .build());
        }
    }

    /** Starts every learner's {@link Learner#run()} on its own thread. */
    LearnerFleet start() {
        for (int i = 0; i < learners.size(); i++) {
            Learner l = learners.get(i);
            CompletableFuture<LearnerSummary> f = new CompletableFuture<>();
            Thread t =
                    new Thread(
                            () -> {
                                try {
                                    f.complete(l.run());
                                } catch (Throwable e) {
                                    f.completeExceptionally(e);
                                }
                            },
                            "e2e-learner-" + i);
            t.setDaemon(true);
            t.start();
            runs.add(f);
        }
        return this;
    }

    /** Waits until every learner has run to the federation's end; returns their summaries. */
    List<LearnerSummary> awaitEnd(Duration timeout) throws Exception {
        List<LearnerSummary> out = new ArrayList<>();
        long end = System.nanoTime() + timeout.toNanos();
        for (CompletableFuture<LearnerSummary> f : runs) {
            out.add(f.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS));
        }
        return out;
    }

    @Override
    public void close() {
        models.forEach(DeterministicModel::release);
        learners.forEach(Learner::close);
    }
}
