package org.metisfl.flink.coordinator;

import java.util.List;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.LogSafe;
import org.metisfl.flink.model.TensorSpecInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The round coordinator's logic, without Flink: routes the gateways' news (announcements, joins,
 * leaves, connectivity, the initial model, training reports, evaluations), the aggregators' closed
 * shards and timers to the learner registry, the {@link TrainingProtocol} (rounds or versions) and
 * the evaluation tracker. {@link RoundCoordinator} runs it in the job; tests run it on heap state.
 */
public final class Coordinator {
    private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);

    private final Federation federation;
    private final TrainingProtocol protocol;

    private Coordinator(Federation federation, TrainingProtocol protocol) {
        this.federation = federation;
        this.protocol = protocol;
    }

    /** A coordinator for {@code options}, working on {@code state}. */
    public static Coordinator of(CoordinatorOptions options, CoordinatorState state) {
        Federation federation =
                new Federation(
                        options,
                        new LearnerRegistry(state.learners()),
                        new ModelPublisher(state.model(), options.shardSize()),
                        new EvaluationTracker(state.stats(), options.evaluationTimeoutMs()));
        TrainingProtocol protocol =
                options.asynchronous()
                        ? new VersionProtocol(
                                federation, state.asyncPending(), state.asyncShardCounts())
                        : new RoundProtocol(
                                federation, state.pendingModel(), state.optimizerState());
        return new Coordinator(federation, protocol);
    }

    public TrainingProtocol protocol() {
        return protocol;
    }

    public LearnerRegistry learners() {
        return federation.learners;
    }

    /** The progress of a federation seen for the first time (it may publish the initial model). */
    public FederationProgress start(CoordinatorOutput out) {
        return federation.start(out);
    }

    /** News from a gateway. */
    public void onEvent(GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        switch (e.kind) {
            case ANNOUNCE -> protocol.onGatewayAnnounced(p, nowMs, out);
            case JOINED -> {
                if (federation.learners.join(
                                e.learnerId,
                                e.learnerName,
                                e.numExamples,
                                e.committeeEligible,
                                nowMs)
                        == LearnerRegistry.Change.ACTIVATED) {
                    p.activeLearners++;
                }
                LOG.info(
                        "Learner {} ({}, {} examples) joined; {} active",
                        e.learnerId,
                        LogSafe.of(e.learnerName),
                        e.numExamples,
                        p.activeLearners);
                protocol.maybeStart(p, nowMs, out);
            }
            case LEFT -> {
                if (federation.learners.leave(e.learnerId) == LearnerRegistry.Change.DEACTIVATED) {
                    p.activeLearners--;
                    LOG.info(
                            "Learner {} ({}) left",
                            e.learnerId,
                            LogSafe.of(federation.learners.get(e.learnerId).name));
                    protocol.onLearnerDeactivated(e.learnerId, p, nowMs, out);
                }
            }
            case CONNECTED, DISCONNECTED -> onConnectivity(e, p, nowMs, out);
            case INITIAL_MODEL -> onInitialModel(e, p, nowMs, out);
            case TRAIN_REPORT -> {
                federation.learners.recordTimings(e.learnerId, e.metrics);
                protocol.onTrainReport(e, p, nowMs, out);
            }
            case EVALUATION -> {
                RoundStats complete = federation.evaluation.onEvaluation(e);
                if (complete != null) {
                    federation.writeResult(complete, p, out);
                }
            }
            case KEY_SHARE, DEALINGS, PARTIAL_DECRYPTION -> protocol.onThreshold(e, p, nowMs, out);
            default -> throw new IllegalArgumentException("not a coordinator record: " + e);
        }
    }

    /** A shard of a new model (or of Krum's distances) closed by an aggregator. */
    public void onShard(GlobalShard g, FederationProgress p, long nowMs, CoordinatorOutput out) {
        protocol.onShard(g, p, nowMs, out);
    }

    /** The learners whose update of {@code round} reached the coordinator so far. */
    public List<String> trainReporters(long round) {
        RoundStats s = federation.evaluation.get(round);
        return s == null ? List.of() : List.copyOf(s.trainReporters);
    }

    /** A processing-time timer fired at {@code timestampMs}. */
    public void onTimer(FederationProgress p, long timestampMs, CoordinatorOutput out) {
        if (p.reconnectCheckAt > 0 && p.reconnectCheckAt <= timestampMs) {
            p.reconnectCheckAt = 0;
            for (String gone : federation.learners.deactivateNotConnectedSince(p.restartedAt)) {
                p.activeLearners--;
                LOG.info("Learner {} did not reconnect after the restart", gone);
                protocol.onLearnerGone(gone, p, timestampMs, out);
            }
        }
        List<RoundStats> due = federation.evaluation.due(timestampMs);
        protocol.onTimer(p, timestampMs, out);
        for (RoundStats s : due) {
            LOG.info(
                    "Round {}: {} of {} evaluations arrived before the evaluation timeout",
                    s.round,
                    s.evalReporters.size(),
                    s.expectedEvaluators.size());
            federation.writeResult(s, p, out);
        }
    }

    /**
     * The coordinator (re)started (a failover or a resume; call it before anything else it is
     * given): the whole job restarted with it, so every task stream was lost and no DISCONNECTED
     * says so. Learners that do not reconnect within {@code round.participant-grace} plus {@code
     * round.restart-grace} are then made inactive, and dropped from the running round.
     */
    public void onRestart(FederationProgress p, long nowMs, CoordinatorOutput out) {
        protocol.onRestart(p, nowMs, out);
        if (p.activeLearners <= 0) {
            return;
        }
        p.restartedAt = nowMs;
        p.reconnectCheckAt =
                nowMs
                        + federation.options.participantGraceMs()
                        + federation.options.restartGraceMs();
        out.timerAt(p.reconnectCheckAt);
    }

    /**
     * A learner whose task stream closed without a Leave (it failed, or its network did) is not
     * drawn for the next rounds until it reconnects; if it is a participant of the running round
     * and does not come back within {@code round.participant-grace}, the round drops it.
     */
    private void onConnectivity(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        boolean connected = e.kind == GatewayEvent.Kind.CONNECTED;
        LearnerRegistry.Change change =
                federation.learners.connectivity(e.learnerId, connected, e.stamp, e.gateway);
        if (connected) {
            federation.learners.connectedAt(e.learnerId, nowMs);
        }
        if (connected && federation.learners.get(e.learnerId) != null) {
            protocol.onLearnerConnected(e.learnerId, p, nowMs, out);
        }
        if (change == LearnerRegistry.Change.NONE) {
            return;
        }
        p.activeLearners += connected ? 1 : -1;
        LOG.info(
                "Learner {} ({}) {}; {} active",
                e.learnerId,
                LogSafe.of(federation.learners.get(e.learnerId).name),
                connected ? "reconnected" : "disconnected",
                p.activeLearners);
        if (connected) {
            protocol.maybeStart(p, nowMs, out);
        } else {
            protocol.onLearnerDeactivated(e.learnerId, p, nowMs, out);
        }
    }

    private void onInitialModel(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase != Phase.WAITING_FOR_MODEL) {
            return;
        }
        if (e.values.isDense() == federation.options.encrypted()) {
            // The gateways refuse such uploads; a record like it never installs a model.
            LOG.warn(
                    "Ignoring initial model of {}: {} in a federation {}",
                    e.learnerId,
                    e.values,
                    federation.options.encrypted() ? "with secure aggregation" : "without");
            return;
        }
        long expected = TensorSpecInfo.totalSize(e.tensors);
        if (expected != e.values.size()) {
            LOG.warn("Ignoring initial model of {}: size mismatch", e.learnerId);
            return;
        }
        LOG.info(
                "Initial model from learner {}: {} tensors, {} values",
                e.learnerId,
                e.tensors.size(),
                e.values.size());
        federation.installInitialModel(p, e.tensors, e.values);
        if (!protocol.maybeStart(p, nowMs, out)) {
            federation.model.publish(p, false, out);
        }
    }
}
