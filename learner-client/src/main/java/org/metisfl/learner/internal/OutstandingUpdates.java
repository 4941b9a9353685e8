package org.metisfl.learner.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The updates a learner has sent and not yet had answered, in the order sent: each is kept until
 * the gateway acknowledges it (ACCEPTED or DUPLICATE, after the checkpoint that holds it) or
 * refuses it, and is sent again after a reconnect. An asynchronous ("pipelined") update lets the
 * learner take its next task before its answer, up to {@link #MAX_PIPELINED} unanswered; any other
 * update (synchronous rounds, the initial model) is answered before anything else starts.
 *
 * <p>Not thread-safe: the learner's task loop owns it; gRPC's threads only queue the answers.
 */
final class OutstandingUpdates<T> {

    /**
     * Asynchronous updates a learner may have unanswered at once: the gateway hands the next task
     * at accept time only while fewer than this many of a learner's updates await their checkpoint
     * ({@code TaskDispatch.MAX_UNACKNOWLEDGED_ASYNC}), and the learner never goes beyond it on its
     * own (a gateway that restarted forgot its count).
     */
    static final int MAX_PIPELINED = 2;

    /** One unanswered update. {@code attempt} grows with every (re)send. */
    static final class Entry<T> {
        private final String taskId;
        private final long round;
        private final boolean pipelined;
        private final T payload;
        private final long firstSentNanos;
        private int attempt;
        private long sentOn;

        private Entry(String taskId, long round, boolean pipelined, T payload, long nowNanos) {
            this.taskId = taskId;
            this.round = round;
            this.pipelined = pipelined;
            this.payload = payload;
            this.firstSentNanos = nowNanos;
        }

        String taskId() {
            return taskId;
        }

        long round() {
            return round;
        }

        boolean pipelined() {
            return pipelined;
        }

        T payload() {
            return payload;
        }

        long firstSentNanos() {
            return firstSentNanos;
        }

        int attempt() {
            return attempt;
        }

        /** The connection (the learner's own count of reconnects and joins) last sent on. */
        long sentOn() {
            return sentOn;
        }
    }

    private final Map<String, Entry<T>> entries = new LinkedHashMap<>();
    private int peak;

    /**
     * Whether a training task may start now: with nothing unanswered always; a pipelined one also
     * while only fewer than {@link #MAX_PIPELINED} pipelined updates are unanswered.
     */
    boolean mayStartTraining(boolean pipelined) {
        return entries.isEmpty() || (pipelined && allPipelined() && entries.size() < MAX_PIPELINED);
    }

    /**
     * Whether a task that uploads no update (an evaluation, a committee task) may start now: it
     * does not wait for pipelined updates, only for an update that is answered before anything
     * else.
     */
    boolean mayStartOther() {
        return allPipelined();
    }

    /**
     * Records an update about to be sent (attempt 1).
     *
     * @throws IllegalStateException if it may not be sent now (see {@link #mayStartTraining}) or an
     *     update of this task is already unanswered
     */
    Entry<T> add(
            String taskId,
            long round,
            boolean pipelined,
            T payload,
            long nowNanos,
            long connection) {
        if (entries.containsKey(taskId)) {
            throw new IllegalStateException(
                    "an update of task " + taskId + " is already awaiting its answer");
        }
        if (!mayStartTraining(pipelined)) {
            throw new IllegalStateException(
                    "cannot send the update of task "
                            + taskId
                            + (pipelined ? " before an answer" : " next to others")
                            + ": "
                            + describe(nowNanos)
                            + " unanswered");
        }
        Entry<T> e = new Entry<>(taskId, round, pipelined, payload, nowNanos);
        e.attempt = 1;
        e.sentOn = connection;
        entries.put(taskId, e);
        peak = Math.max(peak, entries.size());
        return e;
    }

    /** Marks a resend of this entry on {@code connection}; returns its new attempt number. */
    int resend(Entry<T> e, long connection) {
        if (entries.get(e.taskId) != e) {
            throw new IllegalStateException("task " + e.taskId + " is no longer unanswered");
        }
        e.sentOn = connection;
        return ++e.attempt;
    }

    /** The unanswered update of this task, or null. */
    Entry<T> get(String taskId) {
        return entries.get(taskId);
    }

    /**
     * Whether a failure of {@code attempt} concerns the update as it stands: a failure of an
     * earlier attempt (already sent again) is stale and changes nothing.
     */
    boolean isCurrent(String taskId, int attempt) {
        Entry<T> e = entries.get(taskId);
        return e != null && e.attempt == attempt;
    }

    /** Forgets an answered update (acknowledged, or refused and dropped); null if unknown. */
    Entry<T> remove(String taskId) {
        return entries.remove(taskId);
    }

    boolean contains(String taskId) {
        return entries.containsKey(taskId);
    }

    int size() {
        return entries.size();
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The most updates that were ever unanswered at once. */
    int peak() {
        return peak;
    }

    /** The unanswered updates in the order first sent (the order to send them again). */
    List<Entry<T>> inOrder() {
        return new ArrayList<>(entries.values());
    }

    private boolean allPipelined() {
        for (Entry<T> e : entries.values()) {
            if (!e.pipelined) {
                return false;
            }
        }
        return true;
    }

    /** For log lines: {@code "2 (task a-3 of round 5, 1.2 s; task a-4 of round 5, 0.1 s)"}. */
    String describe(long nowNanos) {
        if (entries.isEmpty()) {
            return "none";
        }
        StringJoiner j = new StringJoiner("; ", entries.size() + " (", ")");
        for (Entry<T> e : entries.values()) {
            j.add(
                    String.format(
                            "task %s of round %d, %.1f s",
                            e.taskId, e.round, (nowNanos - e.firstSentNanos) / 1e9));
        }
        return j.toString();
    }
}
