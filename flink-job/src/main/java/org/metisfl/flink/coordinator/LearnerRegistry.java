package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The learners registered with the federation and whether each is active (its task stream is open
 * at a gateway, and it has not left): joins, leaves, connectivity news from the gateways, and each
 * learner's latest reported training speed. Every change of a learner's activity is returned as a
 * {@link Change}, so the caller keeps the active count and tells the training protocol (a learner
 * that becomes inactive may be a participant of the running round).
 */
public final class LearnerRegistry {

    /** What a piece of news did to a learner's activity. */
    public enum Change {
        NONE,
        ACTIVATED,
        DEACTIVATED
    }

    private final StateMap<String, LearnerRecord> learners;

    public LearnerRegistry(StateMap<String, LearnerRecord> learners) {
        this.learners = learners;
    }

    /**
     * A learner joined. It becomes active only once its task stream opens ({@link #connectivity}):
     * a learner that joins and never streams is never drawn, so no round waits for it.
     */
    public Change join(String learnerId, String name, long numExamples, long nowMs) {
        return join(learnerId, name, numExamples, false, nowMs);
    }

    /** As above, for a learner that may or may not sit on a threshold committee. */
    public Change join(
            String learnerId,
            String name,
            long numExamples,
            boolean committeeEligible,
            long nowMs) {
        LearnerRecord r = learners.get(learnerId);
        if (r == null) {
            r = new LearnerRecord();
            r.name = name;
            r.numExamples = numExamples;
            r.joinedAt = nowMs;
            r.committeeEligible = committeeEligible;
            learners.put(learnerId, r);
        }
        return Change.NONE;
    }

    /** A learner left the federation (a Leave call). */
    public Change leave(String learnerId) {
        LearnerRecord r = learners.get(learnerId);
        if (r == null || !r.active) {
            return Change.NONE;
        }
        r.active = false;
        learners.put(learnerId, r);
        return Change.DEACTIVATED;
    }

    /**
     * A gateway saw a learner's task stream open or close. Gateway timestamps order the news from
     * different gateways: news older than what is known is ignored. Unknown learners are ignored.
     */
    public Change connectivity(String learnerId, boolean connected, long stamp) {
        return connectivity(learnerId, connected, stamp, -1);
    }

    /**
     * As {@link #connectivity(String, boolean, long)}, from gateway {@code gateway} (-1: unknown):
     * the closing of a task stream at another gateway than the one where the learner's latest
     * stream opened is news of a stream it has left (a learner that moved to another gateway, whose
     * old gateway stamped the closing after the new one stamped the opening), and is ignored.
     */
    public Change connectivity(String learnerId, boolean connected, long stamp, int gateway) {
        LearnerRecord r = learners.get(learnerId);
        if (r == null || stamp < r.connectivityStamp) {
            return Change.NONE;
        }
        if (!connected && gateway >= 0 && r.streamGateway >= 0 && gateway != r.streamGateway) {
            return Change.NONE;
        }
        if (connected) {
            r.streamGateway = gateway;
        }
        r.connectivityStamp = stamp;
        Change change = Change.NONE;
        if (connected != r.active) {
            r.active = connected;
            change = connected ? Change.ACTIVATED : Change.DEACTIVATED;
        }
        learners.put(learnerId, r);
        return change;
    }

    /**
     * Notes when a learner's task stream opened (processing time); unknown learners are ignored.
     */
    public void connectedAt(String learnerId, long nowMs) {
        LearnerRecord r = learners.get(learnerId);
        if (r != null) {
            r.connectedAtMs = nowMs;
            learners.put(learnerId, r);
        }
    }

    /**
     * The active learners whose task stream has not opened since {@code sinceMs}, made inactive:
     * after the job restarted every stream is new, so those are gone (their gateway went down with
     * their stream, and no closing was ever reported).
     */
    public List<String> deactivateNotConnectedSince(long sinceMs) {
        List<String> gone = new ArrayList<>();
        for (Map.Entry<String, LearnerRecord> l : learners.entries()) {
            LearnerRecord r = l.getValue();
            if (r.active && r.connectedAtMs < sinceMs) {
                gone.add(l.getKey());
            }
        }
        for (String learnerId : gone) {
            LearnerRecord r = learners.get(learnerId);
            r.active = false;
            learners.put(learnerId, r);
        }
        return gone;
    }

    /**
     * Keeps a learner's latest training speed, if the metrics carry a positive {@code ms_per_batch}
     * and {@code ms_per_epoch}; false if they do not or the learner is unknown.
     */
    public boolean recordTimings(String learnerId, Map<String, Double> metrics) {
        if (metrics == null) {
            return false;
        }
        Double perBatch = metrics.get("ms_per_batch");
        Double perEpoch = metrics.get("ms_per_epoch");
        if (perBatch == null || perEpoch == null || !(perBatch > 0) || !(perEpoch > 0)) {
            return false;
        }
        LearnerRecord r = learners.get(learnerId);
        if (r == null) {
            return false;
        }
        r.msPerBatch = perBatch;
        r.msPerEpoch = perEpoch;
        learners.put(learnerId, r);
        return true;
    }

    /** The learner's record, or null if it never joined. */
    public LearnerRecord get(String learnerId) {
        return learners.get(learnerId);
    }

    /** How many learners ever joined (O(learners): for a metric, counted once after a restore). */
    public long registered() {
        long n = 0;
        for (Map.Entry<String, LearnerRecord> ignored : learners.entries()) {
            n++;
        }
        return n;
    }

    /** The active learners, in no particular order. */
    public List<String> active() {
        List<String> active = new ArrayList<>();
        for (Map.Entry<String, LearnerRecord> l : learners.entries()) {
            if (l.getValue().active) {
                active.add(l.getKey());
            }
        }
        return active;
    }
}
