package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Synchronous and semi-synchronous training in rounds: opens a round with participants drawn from
 * the active learners (with a quorum and a deadline, see {@link ClosePolicy}), gathers the shards
 * of the new model the aggregators close (Krum's distances first, if the rule selects updates),
 * installs the new model through the server optimizer, asks the contributors to evaluate it, and
 * opens the next round. Semi-synchronous rounds size each participant's local work to a common time
 * budget ({@link SemiSyncSizing}) and wait for the contributors' speed reports before the next
 * round opens.
 */
public final class RoundProtocol implements TrainingProtocol {
    private static final Logger LOG = LoggerFactory.getLogger(RoundProtocol.class);

    private final Federation federation;
    private final CoordinatorOptions options;
    private final ClosePolicy close;
    private final SemiSyncSizing sizing;
    private final KrumGather krum;
    private final ServerStep serverStep;

    /** Central DP: epsilon per round and the adaptive clip norm; null without it. */
    private final PrivacyLedger privacy;

    /** Threshold mode: keying and decryption by the committee; null otherwise. */
    private final ThresholdPhase threshold;

    /** The closed shards of the running round, until the last one closes it. */
    private final StateMap<Integer, Payload> pendingModel;

    RoundProtocol(
            Federation federation,
            StateMap<Integer, Payload> pendingModel,
            StateMap<Integer, OptimizerState> optimizerState) {
        this.federation = federation;
        this.options = federation.options;
        this.close = new ClosePolicy(options.quorum(), options.roundTimeoutMs());
        this.sizing =
                options.semiSynchronous()
                        ? new SemiSyncSizing(options.semiSyncLambda(), options.semiSyncRecompute())
                        : null;
        this.krum = new KrumGather(options);
        this.serverStep = new ServerStep(options, optimizerState, federation.model);
        this.pendingModel = pendingModel;
        this.privacy = options.privacy().centralDp() ? new PrivacyLedger(options.privacy()) : null;
        this.threshold =
                options.threshold() == null
                        ? null
                        : new ThresholdPhase(options.threshold(), pendingModel);
        if (threshold != null) {
            federation.model.attachThreshold(threshold::directive);
        }
    }

    @Override
    public void onGatewayAnnounced(FederationProgress p, long nowMs, CoordinatorOutput out) {
        // After a failover or a resume the running round gets a fresh deadline: its learners
        // must reconnect first, and the time the job was down must not close the round.
        if (p.phase == Phase.TRAINING) {
            p.deadline = close.afterRestart(p.deadline, nowMs);
        }
        if (p.modelVersion >= 0 || p.phase == Phase.FINISHED) {
            federation.model.publish(p, p.phase == Phase.TRAINING, out);
        }
    }

    @Override
    public boolean maybeStart(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (threshold != null
                && p.phase == Phase.WAITING_FOR_LEARNERS
                && p.modelVersion >= 0
                && !threshold.ready(p)) {
            return startKeying(p, out);
        }
        if (p.phase == Phase.WAITING_FOR_LEARNERS
                && p.modelVersion >= 0
                && p.activeLearners >= (p.federationStartedAt == 0 ? options.minLearners() : 1)) {
            return openRound(p.round + 1, p, nowMs, out);
        }
        return false;
    }

    /** Threshold mode: draws the committee and asks it for key shares, if enough are active. */
    private boolean startKeying(FederationProgress p, CoordinatorOutput out) {
        List<String> active = federation.learners.active();
        List<String> eligible = new ArrayList<>();
        for (String l : active) {
            LearnerRecord r = federation.learners.get(l);
            if (r != null && r.committeeEligible) {
                eligible.add(l);
            }
        }
        // Learners that offered to sit on the committee are drawn when there are enough of them.
        if (!threshold.maybeStartKeying(
                p, eligible.size() >= options.threshold().committeeSize() ? eligible : active)) {
            return false;
        }
        federation.model.publish(p, false, out);
        return true;
    }

    @Override
    public void onThreshold(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (threshold == null) {
            LOG.warn("Ignoring {}: the federation is not in threshold mode", e.kind);
            return;
        }
        switch (e.kind) {
            case KEY_SHARE, DEALINGS -> {
                boolean ready =
                        e.kind == GatewayEvent.Kind.KEY_SHARE
                                ? threshold.onKeyShare(e, p)
                                : threshold.onDealings(e, p);
                if (ready) {
                    p.phase = Phase.WAITING_FOR_LEARNERS;
                    if (openRound(p.round + 1, p, nowMs, out)) {
                        return;
                    }
                }
                // The gateways learn what is in (DUPLICATE for resends) and what comes next.
                federation.model.publish(p, false, out);
            }
            case PARTIAL_DECRYPTION -> {
                ThresholdPhase.Outcome o = threshold.onPartial(e, p, p.numShards);
                afterDecryption(o, p, nowMs, out);
            }
            default -> LOG.warn("Ignoring {}: not a threshold record", e.kind);
        }
    }

    private void afterDecryption(
            ThresholdPhase.Outcome o, FederationProgress p, long nowMs, CoordinatorOutput out) {
        RoundStats s = federation.evaluation.get(p.round);
        if (o == ThresholdPhase.Outcome.DECRYPTED) {
            install(p, s, nowMs, out);
        } else if (o == ThresholdPhase.Outcome.FAILED) {
            p.finishReason = threshold.failureReason(p);
            LOG.error("Federation {}: {}", options.name(), p.finishReason);
            pendingModel.clear();
            p.evaluators = new ArrayList<>();
            if (s != null) {
                s.aborted = true;
                s.last = true;
                s.expectedEvaluators = new ArrayList<>();
                federation.evaluation.put(s);
                federation.writeResult(s, p, out);
            }
            if (p.phase != Phase.FINISHED) {
                p.phase = Phase.FINISHED;
                federation.model.publish(p, false, out);
            }
        }
    }

    @Override
    public void onRestart(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (threshold != null) {
            threshold.onRestart(p, nowMs, out);
        }
    }

    @Override
    public void onTrainReport(
            GatewayEvent e, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (e.round == p.round) {
            p.dropAt.remove(e.learnerId); // it contributed: nothing to wait for any more
        }
        if (p.awaitingReportsFrom.remove(e.learnerId) && p.awaitingReportsFrom.isEmpty()) {
            if (!openRound(p.round + 1, p, nowMs, out)) {
                federation.model.publish(p, false, out);
            }
        }
        federation.evaluation.onTrainReport(e);
    }

    @Override
    public void onShard(GlobalShard g, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase != Phase.TRAINING || g.round != p.round || g.shard >= p.numShards) {
            LOG.warn("Ignoring shard {} of round {} (current round {})", g.shard, g.round, p.round);
            return;
        }
        if (p.shardReceived[g.shard]) {
            return;
        }
        p.shardReceived[g.shard] = true;
        p.shardsReceived++;
        if (g.distances != null) {
            if (krum.add(g, p)) {
                // The shards now average the selection: their values come next.
                p.shardReceived = new boolean[p.numShards];
                p.shardsReceived = 0;
                federation.model.publish(p, true, out);
            }
            return;
        }
        if (g.aborted) {
            p.roundAborted = true;
        } else if (g.direct) {
            p.roundShardsDirect = true; // the values went to the gateways from the aggregator
        } else {
            pendingModel.put(g.shard, serverStep.apply(g));
        }
        if (p.contributors.isEmpty()) {
            p.contributors = new ArrayList<>(g.contributors);
            p.unclipped = g.unclipped;
        }
        if (p.shardsReceived == p.numShards) {
            closeRound(p, nowMs, out);
        }
    }

    @Override
    public void onTimer(FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (threshold != null && p.phase == Phase.DECRYPTING) {
            long attempt = p.threshold.attempt;
            ThresholdPhase.Outcome o = threshold.onTimer(p, nowMs, out, federation.learners);
            if (o == ThresholdPhase.Outcome.FAILED) {
                afterDecryption(o, p, nowMs, out);
            } else if (p.threshold.attempt != attempt) {
                federation.model.publish(p, false, out); // the new attempt's tasks
            }
            return;
        }
        if (p.dropAt.isEmpty()) {
            return;
        }
        List<String> due = new ArrayList<>();
        for (Map.Entry<String, Long> d : p.dropAt.entrySet()) {
            if (d.getValue() <= nowMs) {
                due.add(d.getKey());
            }
        }
        if (due.isEmpty()) {
            return;
        }
        Collections.sort(due);
        boolean changed = false;
        for (String learner : due) {
            p.dropAt.remove(learner);
            LearnerRecord r = federation.learners.get(learner);
            if (p.phase != Phase.TRAINING
                    || !p.participants.contains(learner)
                    || p.dropped.contains(learner)
                    || (r != null && r.active)
                    || hasContributed(p, learner)) {
                continue;
            }
            p.dropped.add(learner);
            changed = true;
            LOG.info(
                    "Round {}: participant {} dropped (its task stream has been gone for {} ms);"
                            + " waiting for {} of {} participants",
                    p.round,
                    learner,
                    options.participantGraceMs(),
                    p.participants.size() - p.dropped.size(),
                    p.participants.size());
        }
        if (changed) {
            // The gateways refuse the dropped learners' updates and tell every shard, in order
            // with the updates (so all shards of the round close on the same contributors).
            federation.model.republishPlan(p, out);
        }
    }

    @Override
    public void onLearnerDeactivated(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase != Phase.TRAINING
                || !p.participants.contains(learnerId)
                || p.dropped.contains(learnerId)
                || hasContributed(p, learnerId)) {
            return;
        }
        long at = nowMs + options.participantGraceMs();
        p.dropAt.put(learnerId, at);
        out.timerAt(at);
    }

    @Override
    public void onLearnerGone(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {
        if (p.phase == Phase.TRAINING && p.participants.contains(learnerId)) {
            p.dropAt.put(learnerId, nowMs); // due now: the coordinator runs onTimer next
        }
    }

    @Override
    public void onLearnerConnected(
            String learnerId, FederationProgress p, long nowMs, CoordinatorOutput out) {
        p.dropAt.remove(learnerId); // back within its grace period: it continues
    }

    /** True if the learner's update for the running round reached the job (its report did). */
    private boolean hasContributed(FederationProgress p, String learnerId) {
        RoundStats s = federation.evaluation.get(p.round);
        return s != null && s.hasTrainReport(learnerId);
    }

    /** Opens a round with every active learner; returns false if there is none. */
    private boolean openRound(long round, FederationProgress p, long now, CoordinatorOutput out) {
        List<String> active = federation.learners.active();
        // federation.min-learners gates the first round only; later rounds run with who is there.
        if (active.isEmpty()
                || (p.federationStartedAt == 0 && active.size() < options.minLearners())) {
            p.phase = Phase.WAITING_FOR_LEARNERS;
            return false;
        }
        List<String> participants = ParticipantSelection.draw(active, round, options);
        if (p.federationStartedAt == 0) {
            p.federationStartedAt = now;
        }
        if (sizing != null) {
            sizing.size(p, participants, federation.learners);
        }
        p.phase = Phase.TRAINING;
        p.round = round;
        p.participants = participants;
        p.quorum = close.quorumOf(participants.size());
        p.deadline = close.deadline(now);
        p.roundStartedAt = now;
        p.shardReceived = new boolean[p.numShards];
        p.shardsReceived = 0;
        p.roundAborted = false;
        p.roundShardsDirect = false;
        p.krumDistances = null;
        p.contributors = new ArrayList<>();
        p.dropped = new ArrayList<>();
        p.dropAt = new HashMap<>();
        p.roundActive = active.size();
        if (privacy != null) {
            privacy.clipNorm(p);
        }
        federation.evaluation.open(round, participants.size(), now);
        LOG.info(
                "Round {} started: {} participants, quorum {}, deadline in {} ms",
                round,
                participants.size(),
                p.quorum,
                options.roundTimeoutMs());
        federation.model.publish(p, true, out);
        return true;
    }

    private void closeRound(FederationProgress p, long now, CoordinatorOutput out) {
        long round = p.round;
        RoundStats s = federation.evaluation.get(round);
        if (s == null) {
            s = new RoundStats();
            s.round = round;
            s.participants = p.participants.size();
            s.startedAt = p.roundStartedAt;
        }
        s.closedAt = now;
        s.aborted = p.roundAborted;
        s.contributors = new ArrayList<>(p.contributors);
        s.dropped = new ArrayList<>(p.dropped);
        p.countedRound = round;
        p.counted = p.roundAborted ? new ArrayList<>() : new ArrayList<>(p.contributors);
        Termination termination = federation.termination;
        boolean outOfTime = termination.outOfTime(now, p.federationStartedAt);
        s.last = termination.isLast(round, outOfTime);
        if (outOfTime && termination.endedEarly(round)) {
            p.finishReason = termination.maxDurationReason() + " after round " + round;
        }
        if (!p.roundAborted && threshold != null) {
            // The aggregate stays in the pending model until the committee decrypted it.
            federation.evaluation.put(s);
            threshold.startDecryption(p, round, now, out, federation.learners);
            federation.model.publish(p, false, out);
            return;
        }
        install(p, s, now, out);
    }

    /**
     * Installs the closed round's model from the pending shards (decrypted first in threshold
     * mode), asks for evaluations and opens the next round.
     */
    private void install(FederationProgress p, RoundStats s, long now, CoordinatorOutput out) {
        long round = p.round;
        if (p.phase == Phase.DECRYPTING) {
            p.phase = Phase.TRAINING; // as after a plain round's close, until the next opens
        }
        if (!p.roundAborted) {
            if (p.roundShardsDirect) {
                // The aggregators hold the new model and sent it to the gateways; the one this
                // coordinator held (the initial model) is not needed any more.
                federation.model.clear();
                p.modelAtShards = true;
            } else {
                for (int shard = 0; shard < p.numShards; shard++) {
                    federation.model.replace(shard, pendingModel.get(shard));
                }
                p.modelAtShards = false;
            }
            p.modelVersion = round;
            p.evaluators =
                    options.evaluationEnabled()
                            ? ParticipantSelection.evaluators(p.contributors, round, options)
                            : new ArrayList<>();
        } else {
            p.evaluators = new ArrayList<>();
        }
        pendingModel.clear();
        if (privacy != null) {
            s.active = p.roundActive;
            s.unclipped = p.roundAborted ? 0 : p.unclipped;
            privacy.account(p, s);
        }
        s.expectedEvaluators = new ArrayList<>(p.evaluators);
        LOG.info(
                "Round {} {} after {} ms with {} of {} participants{}",
                round,
                p.roundAborted ? "ABORTED (no quorum at the deadline)" : "closed",
                now - p.roundStartedAt,
                p.contributors.size(),
                p.participants.size(),
                p.dropped.isEmpty() ? "" : " (" + p.dropped.size() + " dropped)");
        federation.evaluation.put(s);

        p.awaitingReportsFrom = new ArrayList<>();
        if (s.last) {
            p.phase = Phase.FINAL_EVALUATION;
            federation.model.publish(p, false, out);
        } else if (sizing != null && !s.contributors.stream().allMatch(s::hasTrainReport)) {
            // The next round's local work is sized from the speeds the contributors reported;
            // their reports travel beside the shards and can arrive just after them: wait.
            for (String c : s.contributors) {
                if (!s.hasTrainReport(c)) {
                    p.awaitingReportsFrom.add(c);
                }
            }
        } else if (!openRound(round + 1, p, now, out)) {
            federation.model.publish(p, false, out);
        }
        federation.awaitEvaluations(s, p, out);
    }
}
