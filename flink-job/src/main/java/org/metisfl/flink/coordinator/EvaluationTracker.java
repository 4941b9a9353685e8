package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.RoundResult;

/**
 * What is known of each round until its result is written: training reports (metrics weighted by
 * examples), the evaluations expected of the new model and those received, until every evaluator
 * answered or the evaluation timeout passed. One {@link RoundStats} per round.
 */
public final class EvaluationTracker {
    private final StateMap<Long, RoundStats> stats;
    private final long evaluationTimeoutMs;

    public EvaluationTracker(StateMap<Long, RoundStats> stats, long evaluationTimeoutMs) {
        this.stats = stats;
        this.evaluationTimeoutMs = evaluationTimeoutMs;
    }

    /** Starts the record of a round (or model version). */
    public RoundStats open(long round, int participants, long startedAtMs) {
        RoundStats s = new RoundStats();
        s.round = round;
        s.participants = participants;
        s.startedAt = startedAtMs;
        stats.put(round, s);
        return s;
    }

    /** The record of a round, or null if it has none (any more). */
    public RoundStats get(long round) {
        return stats.get(round);
    }

    public void put(RoundStats s) {
        stats.put(s.round, s);
    }

    /** Adds a learner's training metrics to its round, once per learner. */
    public void onTrainReport(GatewayEvent e) {
        RoundStats s = stats.get(e.round);
        if (s != null && s.addTrainReporter(e.learnerId)) {
            RoundStats.addWeighted(s.trainSums, s.trainWeights, e.metrics, e.numExamples);
            s.trainWeight += e.numExamples;
            stats.put(e.round, s);
        }
    }

    /**
     * Adds an evaluation of a closed round's model from a learner asked for one; returns the
     * round's record once every expected evaluation is in, else null.
     */
    public RoundStats onEvaluation(GatewayEvent e) {
        RoundStats s = stats.get(e.round);
        if (s == null || s.closedAt <= 0 || !s.addEvalReporter(e.learnerId)) {
            return null;
        }
        RoundStats.addWeighted(s.evalSums, s.evalWeights, e.metrics, e.numExamples);
        s.evalExamples += e.numExamples;
        if (s.evalReporters.size() >= s.expectedEvaluators.size()) {
            return s;
        }
        stats.put(e.round, s);
        return null;
    }

    /** The time at which a round closed at {@code closedAtMs} stops waiting for evaluations. */
    public long timeoutAt(long closedAtMs) {
        return closedAtMs + evaluationTimeoutMs;
    }

    /** Closed rounds whose evaluation timeout has passed at {@code nowMs}, oldest first. */
    public List<RoundStats> due(long nowMs) {
        List<RoundStats> due = new ArrayList<>();
        for (Map.Entry<Long, RoundStats> entry : stats.entries()) {
            RoundStats s = entry.getValue();
            if (s.closedAt > 0 && timeoutAt(s.closedAt) <= nowMs) {
                due.add(s);
            }
        }
        due.sort((a, b) -> Long.compare(a.round, b.round));
        return due;
    }

    /** The round's result (its {@code last} flag as the round knew it); forgets the round. */
    public RoundResult complete(RoundStats s, String federation) {
        RoundResult r = new RoundResult();
        r.federation = federation;
        r.round = s.round;
        r.participants = s.participants;
        r.contributors = s.contributors;
        r.dropped = s.dropped;
        r.aborted = s.aborted;
        r.startedAtMs = s.startedAt;
        r.closedAtMs = s.closedAt;
        r.roundTimeMs = s.closedAt - s.startedAt;
        r.trainMetrics = RoundStats.mean(s.trainSums, s.trainWeights);
        r.evalMetrics = RoundStats.mean(s.evalSums, s.evalWeights);
        r.evalExamples = s.evalExamples;
        r.evaluators = s.expectedEvaluators.size();
        r.evaluationsReceived = s.evalReporters.size();
        r.last = s.last;
        if (!Double.isNaN(s.epsilon)) {
            r.epsilon = s.epsilon;
            r.delta = s.delta;
            r.clipNorm = s.clipNorm;
        }
        stats.remove(s.round);
        return r;
    }
}
