package org.metisfl.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.metisfl.proto.v1.SubmitUpdateResponse;

/**
 * Learners' updates of a round sent at once, each on a thread of a pool: how the failover ITCases
 * have several uploads in flight when the task manager dies, whatever the learner (raw or CKKS).
 *
 * @param <L> the learner type
 */
final class ConcurrentUploads<L> implements AutoCloseable {

    /** Learner {@code index}'s upload of its update for {@code round}. */
    @FunctionalInterface
    interface Upload<L> {
        SubmitUpdateResponse send(L learner, int index, long round);
    }

    private final List<L> learners;
    private final Upload<L> upload;
    private final ExecutorService pool;

    /**
     * @param learners the learners by index (read at each {@link #submit}, so it may be filled
     *     later)
     * @param threads the pool's size
     */
    ConcurrentUploads(List<L> learners, int threads, Upload<L> upload) {
        this.learners = learners;
        this.upload = upload;
        this.pool = Executors.newFixedThreadPool(threads);
    }

    /** Sends the round-{@code round} updates of the learners {@code which}, in that order. */
    List<CompletableFuture<SubmitUpdateResponse>> submit(long round, int... which) {
        List<CompletableFuture<SubmitUpdateResponse>> out = new ArrayList<>();
        for (int i : which) {
            L l = learners.get(i);
            out.add(CompletableFuture.supplyAsync(() -> upload.send(l, i, round), pool));
        }
        return out;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
