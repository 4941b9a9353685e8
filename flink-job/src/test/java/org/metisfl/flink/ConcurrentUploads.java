package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.metisfl.proto.v1.SubmitUpdateResponse;

/**
 * Learners' updates of a round sent at once, each on a thread of a pool: how the failover ITCases
 * have several uploads in flight when the task manager dies, whatever the learner (raw or CKKS),
 * find those lost with it and send them again.
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

    /**
     * Sends the round-{@code round} updates of the learners {@code which} and asserts that each is
     * accepted within {@code wait}.
     */
    void sendAccepted(long round, Duration wait, int... which) throws Exception {
        for (CompletableFuture<SubmitUpdateResponse> f : submit(round, which)) {
            assertThat(f.get(wait.toMillis(), TimeUnit.MILLISECONDS).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
        }
    }

    /**
     * The positions in {@code pending} of the uploads that failed or had no answer within {@code
     * wait} (each): lost with the task manager, never acknowledged.
     */
    static List<Integer> lost(
            List<CompletableFuture<SubmitUpdateResponse>> pending, Duration wait) {
        List<Integer> lost = new ArrayList<>();
        for (int i = 0; i < pending.size(); i++) {
            try {
                pending.get(i).get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                lost.add(i);
            }
        }
        return lost;
    }

    /**
     * Sends the round-{@code round} updates of the learners {@code which} again after a failure and
     * asserts that each is taken within {@code wait}: accepted, or a duplicate of one the restored
     * job holds.
     */
    void sendAgain(long round, Duration wait, List<Integer> which) throws Exception {
        for (CompletableFuture<SubmitUpdateResponse> f :
                submit(round, which.stream().mapToInt(Integer::intValue).toArray())) {
            assertThat(f.get(wait.toMillis(), TimeUnit.MILLISECONDS).getStatus())
                    .isIn(
                            SubmitUpdateResponse.Status.ACCEPTED,
                            SubmitUpdateResponse.Status.DUPLICATE);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
