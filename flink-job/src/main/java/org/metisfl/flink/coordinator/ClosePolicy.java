package org.metisfl.flink.coordinator;

/**
 * When a round closes: as soon as every participant has contributed, or when its deadline passes
 * with at least a quorum of them (else it is aborted and the model stays). The coordinator sets the
 * numbers in the round's plan; the shard aggregators apply them to the updates they hold.
 */
public record ClosePolicy(double quorumFraction, long timeoutMs) {

    /** Contributions needed to close a round of {@code participants} at its deadline. */
    public int quorumOf(int participants) {
        return Math.max(1, (int) Math.ceil(quorumFraction * participants - 1e-9));
    }

    /** The deadline of a round opened at {@code openedAtMs}. */
    public long deadline(long openedAtMs) {
        return openedAtMs + timeoutMs;
    }

    /**
     * The deadline of a running round after the job restarted at {@code nowMs}: a fresh one if the
     * current one would leave the reconnecting learners less than half a round's time, else the
     * current one.
     */
    public long afterRestart(long currentDeadline, long nowMs) {
        long fresh = nowMs + timeoutMs;
        return fresh - currentDeadline > timeoutMs / 2 ? fresh : currentDeadline;
    }

    /** True if a round with these contributions closes now (the deadline passed or not). */
    public boolean closes(int contributions, int participants, boolean deadlinePassed) {
        return contributions >= participants
                || (deadlinePassed && contributions >= quorumOf(participants));
    }

    /** True if a round closing at its deadline with these contributions is aborted. */
    public boolean aborts(int contributions, int participants) {
        return contributions < quorumOf(participants);
    }
}
