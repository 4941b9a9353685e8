package org.metisfl.flink.connector.gateway.server;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.metisfl.flink.model.GatewayEvent;

/**
 * The hand-off from gRPC threads to the source reader. Each batch (e.g. all shards of one update)
 * is stamped with the gateway's clock and enqueued atomically, and refused if the stamp is past the
 * batch's deadline. The watermark is {@code min(now, oldest batch not yet emitted) - 1}, computed
 * under the same lock: it never passes an accepted update, and it advances with the clock while
 * learners are silent. These two rules make every shard of a round close on the same contributor
 * set.
 *
 * <p>It also holds the gateway's {@link IngestBudget}: a batch may carry the budget reservation of
 * the upload it came from, released when the reader takes the batch (its memory is then the job's).
 */
public final class StampedEventQueue {

    /** Events that enter the job together, with their timestamp and what to do once durable. */
    public record Batch(List<GatewayEvent> events, long timestamp, Runnable onDurable) {}

    /** A batch waiting for the reader, with the budget it holds (null if none). */
    private record Entry(Batch batch, IngestBudget.Reservation reservation) {}

    private final LongSupplier clock;
    private final IngestBudget budget;
    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private long lastStamp = Long.MIN_VALUE;
    private CompletableFuture<Void> available = new CompletableFuture<>();

    /** A queue with the gateway's default budget ({@link IngestBudget#forGateway()}). */
    public StampedEventQueue(LongSupplier clock) {
        this(clock, IngestBudget.forGateway());
    }

    StampedEventQueue(LongSupplier clock, IngestBudget budget) {
        this.clock = clock;
        this.budget = budget;
    }

    /** The budget of the uploads received and queued here. */
    IngestBudget budget() {
        return budget;
    }

    /**
     * Stamps and enqueues {@code events} unless the stamp would be after {@code deadline}.
     *
     * @return the timestamp, or {@code Long.MIN_VALUE} if the deadline has passed
     */
    public long offer(List<GatewayEvent> events, long deadline, Runnable onDurable) {
        return offer(events, deadline, onDurable, null);
    }

    /**
     * Like {@link #offer(List, long, Runnable)}, and the batch takes over {@code reservation}
     * (released when the reader takes the batch). If the batch is refused, the caller keeps it.
     */
    synchronized long offer(
            List<GatewayEvent> events,
            long deadline,
            Runnable onDurable,
            IngestBudget.Reservation reservation) {
        long now = Math.max(clock.getAsLong(), lastStamp);
        if (now > deadline) {
            return Long.MIN_VALUE;
        }
        lastStamp = now;
        queue.add(new Entry(new Batch(events, now, onDurable), reservation));
        available.complete(null);
        return now;
    }

    /** The oldest batch, or null; releases its budget reservation (which may resume uploads). */
    public Batch poll() {
        Entry head;
        synchronized (this) {
            head = queue.poll();
        }
        if (head == null) {
            return null;
        }
        if (head.reservation() != null) {
            head.reservation().release();
        }
        return head.batch();
    }

    public synchronized boolean isEmpty() {
        return queue.isEmpty();
    }

    public synchronized long watermark() {
        long now = Math.max(clock.getAsLong(), lastStamp);
        Entry head = queue.peek();
        return (head == null ? now : Math.min(now, head.batch().timestamp())) - 1;
    }

    /** Completes when a batch is waiting (or on {@link #wakeUp()}). */
    public synchronized CompletableFuture<Void> availability() {
        if (!queue.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        if (available.isDone()) {
            available = new CompletableFuture<>();
        }
        return available;
    }

    /** Lets the reader run although nothing is queued (to advance the watermark). */
    public synchronized void wakeUp() {
        available.complete(null);
    }
}
