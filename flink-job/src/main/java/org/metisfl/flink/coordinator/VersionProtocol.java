package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.List;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asynchronous training in model versions: the aggregators fold each update (or each buffer of
 * updates) into the model and emit a new version shard by shard; this protocol gathers the shards
 * of each version, installs complete versions, asks every active learner to evaluate every {@code
 * async.evaluate-every}-th version, and publishes new versions to the gateways at most once per
 * {@code async.publish-interval} (a processing-time timer publishes the newest one late).
 *
 * <p>With the model path the aggregators decide which versions are published (at most one per
 * publish interval of the gateways' clock, every evaluation version, the last) and send their
 * values to the gateways themselves; this protocol gets only those versions' metadata (shard 0's
 * carries the contributors of every version since the last published one) and publishes each at
 * once, by version number. The federation therefore always ends at a published version: {@code
 * federation.rounds} is one, and past {@code termination.max-duration} it ends at the next one that
 * completes.
 */
public final class VersionProtocol implements TrainingProtocol {
    private static final Logger LOG = LoggerFactory.getLogger(VersionProtocol.class);

    private final Federation federation;
    private final CoordinatorOptions options;

    /** Shards of versions not complete yet, by "version/shard". */
    private final StateMap<String, Payload> pending;

    /** How many shards of each incomplete version arrived. */
    private final StateMap<Long, Integer> shardCounts;

    VersionProtocol(
            Federation federation,
            StateMap<String, Payload> pending,
            StateMap<Long, Integer> shardCounts) {
        this.federation = federation;
        this.options = federation.options;
        this.pending = pending;
        this.shardCounts = shardCounts;
    }

    @Override
    public void onGatewayAnnounced(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.modelVersion >= 0 || p.phase == Phase.FINISHED) {
            federation.model.publish(p, false, out);
        }
    }

    @Override
    public boolean maybeStart(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase != Phase.WAITING_FOR_LEARNERS
                || p.modelVersion < 0
                || p.activeLearners < (p.federationStartedAt == 0 ? options.minLearners() : 1)) {
            return false;
        }
        // Versions the aggregators made before the start (see onShard) have contributors.
        boolean versionsBeforeStart = !p.contributors.isEmpty();
        p.phase = Phase.TRAINING;
        p.federationStartedAt = nowMs;
        p.roundStartedAt = nowMs;
        LOG.info(
                "Asynchronous training started from model version {} with {} learners",
                p.modelVersion,
                p.activeLearners);
        if (versionsBeforeStart) {
            onVersion(p, nowMs, out);
        } else {
            p.contributors = new ArrayList<>();
            publishVersion(p, nowMs, out);
        }
        return true;
    }

    @Override
    public void onTrainReport(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        // Versions have no training reports to wait for or to aggregate.
    }

    /**
     * Gathers the shards of each model version (they complete in version order, since every shard
     * emits its versions in order) and moves to a completed version.
     *
     * <p>A version can come before training starts here: a gateway hands out tasks as soon as it
     * serves a model, and the records that bring the active learners up to {@code
     * federation.min-learners} reach this operator on another input than the versions, in no
     * particular order with them. Such a version holds updates the gateways accepted and
     * acknowledged, and every shard has applied it, so it is installed all the same and published
     * (evaluated, counted) when training starts; dropped, the model stayed at the older version
     * until the next update, and a federation whose learners wait for the new model (one update in
     * flight) never moved on.
     */
    @Override
    public void onShard(GlobalShard g, FederationProgress p, long nowMs, CoordinatorOutput out) {
        boolean beforeStart = p.phase == Phase.WAITING_FOR_LEARNERS && p.modelVersion >= 0;
        if ((p.phase != Phase.TRAINING && !beforeStart)
                || g.round <= p.modelVersion
                || g.shard >= p.numShards) {
            return;
        }
        if (!g.direct) {
            pending.put(g.round + "/" + g.shard, g.values);
        }
        if (g.shard == 0) {
            for (String learner : g.contributors) {
                p.addContributor(learner);
            }
            if (g.evaluate) {
                p.evaluationVersions.add(g.round);
            }
        }
        Integer count = shardCounts.get(g.round);
        int received = count == null ? 1 : count + 1;
        if (received < p.numShards) {
            shardCounts.put(g.round, received);
            return;
        }
        shardCounts.remove(g.round);
        if (g.direct) {
            // The aggregators hold this version and sent it to the gateways; the model this
            // coordinator held (the initial one) is not needed any more.
            federation.model.clear();
            p.modelAtShards = true;
        } else {
            for (int shard = 0; shard < p.numShards; shard++) {
                String key = g.round + "/" + shard;
                federation.model.replace(shard, pending.get(key));
                pending.remove(key);
            }
        }
        p.modelVersion = g.round;
        if (beforeStart) {
            LOG.info(
                    "Model version {} complete before training started ({} of {} learners"
                            + " active): published when it starts",
                    p.modelVersion,
                    p.activeLearners,
                    options.minLearners());
            return;
        }
        onVersion(p, nowMs, out);
    }

    @Override
    public void onTimer(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase == Phase.TRAINING
                && p.modelVersion > p.publishedVersion
                && nowMs >= p.publishTimerAt) {
            p.publishTimerAt = 0;
            publishVersion(p, nowMs, out);
        }
    }

    /** A new version is complete: evaluate it, end the federation, or publish it (throttled). */
    private void onVersion(FederationProgress p, long now, CoordinatorOutput out) {
        long v = p.modelVersion;
        Termination termination = federation.termination;
        boolean outOfTime = termination.outOfTime(now, p.federationStartedAt);
        boolean last = termination.isLast(v, outOfTime);
        if (outOfTime && termination.endedEarly(v)) {
            p.finishReason = termination.maxDurationReason();
        } else if (last) {
            p.finishReason = termination.completed("model versions");
        }
        if (!last && !evaluates(p, v, now)) {
            // Only evaluation versions carry evaluators: the others must not ask for any.
            p.evaluators = new ArrayList<>();
            if (p.modelAtShards || now - p.lastPublishAt >= options.asyncPublishIntervalMs()) {
                // The model path: the aggregators published only this version, throttled already.
                publishVersion(p, now, out);
            } else if (p.publishTimerAt == 0) {
                p.publishTimerAt = p.lastPublishAt + options.asyncPublishIntervalMs();
                out.timerAt(p.publishTimerAt);
            }
            return;
        }
        RoundStats s = federation.evaluation.open(v, p.activeLearners, p.roundStartedAt);
        s.closedAt = now;
        s.contributors = new ArrayList<>(p.contributors);
        s.last = last;
        List<String> evaluators =
                options.evaluationEnabled()
                        ? ParticipantSelection.evaluators(federation.learners.active(), v, options)
                        : new ArrayList<>();
        s.expectedEvaluators = evaluators;
        p.evaluators = evaluators;
        p.contributors = new ArrayList<>();
        p.roundStartedAt = now;
        if (last) {
            p.phase = Phase.FINAL_EVALUATION;
        }
        LOG.info(
                "Model version {} ({} learners contributed since the last)",
                v,
                s.contributors.size());
        publishVersion(p, now, out);
        federation.awaitEvaluations(s, p, out);
    }

    /**
     * Whether version {@code v} is evaluated: every {@code async.evaluate-every}-th; with {@code
     * async.evaluate-interval}, on the model path the version the shards said, else the first
     * version complete here at least one interval after the last evaluated one (processing time).
     */
    private boolean evaluates(FederationProgress p, long v, long now) {
        long interval = options.asyncEvaluateIntervalMs();
        if (interval <= 0) {
            return v % options.asyncEvaluateEvery() == 0;
        }
        if (!p.modelAtShards) {
            return now - p.roundStartedAt >= interval;
        }
        boolean said = p.evaluationVersions.contains(v);
        p.evaluationVersions.removeIf(version -> version <= v);
        return said;
    }

    private void publishVersion(FederationProgress p, long now, CoordinatorOutput out) {
        p.publishedVersion = p.modelVersion;
        p.lastPublishAt = now;
        federation.model.publish(p, false, out);
    }
}
