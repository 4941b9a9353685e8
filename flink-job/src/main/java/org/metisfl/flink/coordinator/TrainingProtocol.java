package org.metisfl.flink.coordinator;

import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;

/**
 * How a federation trains: in rounds ({@link RoundProtocol}: synchronous and semi-synchronous) or
 * in model versions ({@link VersionProtocol}: asynchronous). The {@link Coordinator} hands it the
 * news that concerns training; learners, evaluation, termination and publishing are the shared
 * {@link Federation} parts it works with. Time is passed in ({@code nowMs}: processing time).
 */
public interface TrainingProtocol {

    /** A gateway (re)started: it needs the current model and, if one runs, the current plan. */
    void onGatewayAnnounced(FederationProgress p, long nowMs, CoordinatorOutput out);

    /**
     * Starts training if there is a model and enough active learners (and it is not running); true
     * if it started, which published the model.
     */
    boolean maybeStart(FederationProgress p, long nowMs, CoordinatorOutput out);

    /** A learner's training report (its speed is already in the registry). */
    void onTrainReport(GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out);

    /** A shard of a new model closed by the aggregators. */
    void onShard(GlobalShard g, FederationProgress p, long nowMs, CoordinatorOutput out);

    /** A processing-time timer this protocol asked for may be due. */
    void onTimer(FederationProgress p, long nowMs, CoordinatorOutput out);

    /**
     * A learner became inactive (it left, or its task stream closed). Both protocols let the
     * running round or version go on: a round closes at its deadline with the quorum, and the
     * learner is not drawn again until it is back. A protocol that wants to shrink a running
     * round's expectations (e.g. when a participant is dropped for good) does it here.
     */
    default void onLearnerDeactivated(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {}

    /**
     * A learner did not come back after the job restarted (it is inactive now): a protocol that
     * waits for participants stops waiting for it (in the {@link #onTimer} that follows).
     */
    default void onLearnerGone(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {}

    /**
     * Threshold mode: a committee member's key share, dealings or partial decryptions, checked by a
     * gateway. Protocols without threshold mode ignore them.
     */
    default void onThreshold(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {}

    /** The coordinator restarted (after a failover or a resume). */
    default void onRestart(FederationProgress p, long nowMs, CoordinatorOutput out) {}

    /** A learner's task stream opened (again): it is back within any grace period it had. */
    default void onLearnerConnected(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {}
}
