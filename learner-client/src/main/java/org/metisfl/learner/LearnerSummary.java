package org.metisfl.learner;

/**
 * What one {@link Learner#run()} did, returned when it ends.
 *
 * @param learnerId the id the gateway gave this learner (the last one, after re-joins)
 * @param roundsTrained training tasks whose update the gateway acknowledged (each counted once by
 *     the job)
 * @param updatesDropped updates the gateway refused (e.g. the round had closed) and were dropped
 * @param evaluationsDone evaluation tasks reported
 * @param lastModelVersion version of the last global model downloaded, -1 if none
 * @param reconnects reconnections after a lost connection
 * @param federationFinished true if the federation sent Shutdown, false if the learner was closed
 * @param shutdownReason the federation's reason, or why the learner stopped
 * @param updatesUnacknowledged updates sent and neither acknowledged nor refused when {@code run()}
 *     ended (normally 0: the federation's Shutdown waits for every acknowledgement; after {@code
 *     close()} an update may still have counted, or not)
 * @param homeReturns moves back to the home gateway (the one the learner joined through, which
 *     folds its updates) after a reconnect had taken it elsewhere
 */
public record LearnerSummary(
        String learnerId,
        int roundsTrained,
        int updatesDropped,
        int evaluationsDone,
        long lastModelVersion,
        int reconnects,
        boolean federationFinished,
        String shutdownReason,
        int updatesUnacknowledged,
        int homeReturns) {

    /** A summary without home returns (the form before them; kept for callers). */
    public LearnerSummary(
            String learnerId,
            int roundsTrained,
            int updatesDropped,
            int evaluationsDone,
            long lastModelVersion,
            int reconnects,
            boolean federationFinished,
            String shutdownReason,
            int updatesUnacknowledged) {
        this(
                learnerId,
                roundsTrained,
                updatesDropped,
                evaluationsDone,
                lastModelVersion,
                reconnects,
                federationFinished,
                shutdownReason,
                updatesUnacknowledged,
                0);
    }

    /**
     * A summary with nothing left unacknowledged (the form before pipelining; kept for callers).
     */
    public LearnerSummary(
            String learnerId,
            int roundsTrained,
            int updatesDropped,
            int evaluationsDone,
            long lastModelVersion,
            int reconnects,
            boolean federationFinished,
            String shutdownReason) {
        this(
                learnerId,
                roundsTrained,
                updatesDropped,
                evaluationsDone,
                lastModelVersion,
                reconnects,
                federationFinished,
                shutdownReason,
                0);
    }
}
