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
 */
public final class StampedEventQueue {

    /** Events that enter the job together, with their timestamp and what to do once durable. */
    public record Batch(List<GatewayEvent> events, long timestamp, Runnable onDurable) {}

    private final LongSupplier clock;
    private final ArrayDeque<Batch> queue = new ArrayDeque<>();
    private long lastStamp = Long.MIN_VALUE;
    private CompletableFuture<Void> available = new CompletableFuture<>();

    public StampedEventQueue(LongSupplier clock) {
        this.clock = clock;
    }

    /**
     * Stamps and enqueues {@code events} unless the stamp would be after {@code deadline}.
     *
     * @return the timestamp, or {@code Long.MIN_VALUE} if the deadline has passed
     */
    public synchronized long offer(List<GatewayEvent> events, long deadline, Runnable onDurable) {
        long now = Math.max(clock.getAsLong(), lastStamp);
        if (now > deadline) {
            return Long.MIN_VALUE;
        }
        lastStamp = now;
        queue.add(new Batch(events, now, onDurable));
        available.complete(null);
        return now;
    }

    public synchronized Batch poll() {
        return queue.poll();
    }

    public synchronized boolean isEmpty() {
        return queue.isEmpty();
    }

    public synchronized long watermark() {
        long now = Math.max(clock.getAsLong(), lastStamp);
        Batch head = queue.peek();
        return (head == null ? now : Math.min(now, head.timestamp())) - 1;
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
