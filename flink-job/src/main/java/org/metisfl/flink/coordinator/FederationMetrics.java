package org.metisfl.flink.coordinator;

import org.metisfl.flink.model.RoundResult;

/**
 * What the coordinator reports about its federation to a metric system: its progress after every
 * record or timer, learners registering, and each round result written. {@link RoundCoordinator}
 * binds it to Flink's metric group {@code federation.<name>} ({@link FlinkFederationMetrics});
 * {@link #NONE} ignores everything.
 */
public interface FederationMetrics {

    /** Reports nothing. */
    FederationMetrics NONE = new FederationMetrics() {};

    /** The federation's progress (round or model version, active learners, participants). */
    default void progress(FederationProgress p) {}

    /** The number of learners that ever registered with the federation. */
    default void registeredLearners(long registered) {}

    /**
     * Learner {@code learnerId}'s update of {@code round} reached the coordinator (its training
     * report travels with it).
     */
    default void trainReport(long round, String learnerId) {}

    /** A round's (or an evaluated model version's) result was written. */
    default void result(RoundResult r) {}
}
