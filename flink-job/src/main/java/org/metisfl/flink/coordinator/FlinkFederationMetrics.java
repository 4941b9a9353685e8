package org.metisfl.flink.coordinator;

import java.util.Map;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.metisfl.flink.model.RoundResult;

/**
 * {@link FederationMetrics} as Flink gauges in the group {@code federation.<name>} of the
 * coordinator operator, so they show in the web UI, the REST API and every configured reporter.
 * Written on the task thread, read by reporters: the fields are volatile.
 *
 * <p>Metrics: {@code round}, {@code modelVersion}, {@code registeredLearners}, {@code
 * activeLearners}, {@code participants}, {@code roundsCompleted}, {@code lastRound}, {@code
 * lastRoundDurationMs}, {@code lastContributors}, {@code lastAccuracy}, {@code lastLoss} (the
 * learners' evaluation of the round's model; NaN until one arrived), {@code lastTrainLoss}.
 */
public final class FlinkFederationMetrics implements FederationMetrics {
    private volatile long round;
    private volatile long modelVersion = -1;
    private volatile long registered;
    private volatile int active;
    private volatile int participants;
    private volatile long lastRound = -1;
    private volatile long lastRoundDurationMs;
    private volatile int lastContributors;
    private volatile double lastAccuracy = Double.NaN;
    private volatile double lastLoss = Double.NaN;
    private volatile double lastTrainLoss = Double.NaN;
    private final Counter roundsCompleted;

    private FlinkFederationMetrics(MetricGroup group) {
        group.gauge("round", (Gauge<Long>) () -> round);
        group.gauge("modelVersion", (Gauge<Long>) () -> modelVersion);
        group.gauge("registeredLearners", (Gauge<Long>) () -> registered);
        group.gauge("activeLearners", (Gauge<Integer>) () -> active);
        group.gauge("participants", (Gauge<Integer>) () -> participants);
        group.gauge("lastRound", (Gauge<Long>) () -> lastRound);
        group.gauge("lastRoundDurationMs", (Gauge<Long>) () -> lastRoundDurationMs);
        group.gauge("lastContributors", (Gauge<Integer>) () -> lastContributors);
        group.gauge("lastAccuracy", (Gauge<Double>) () -> lastAccuracy);
        group.gauge("lastLoss", (Gauge<Double>) () -> lastLoss);
        group.gauge("lastTrainLoss", (Gauge<Double>) () -> lastTrainLoss);
        roundsCompleted = group.counter("roundsCompleted");
    }

    /**
     * Registers the federation's metrics in {@code operatorGroup}'s group {@code
     * federation.<name>}.
     */
    public static FlinkFederationMetrics register(MetricGroup operatorGroup, String federation) {
        return new FlinkFederationMetrics(operatorGroup.addGroup("federation", federation));
    }

    @Override
    public void progress(FederationProgress p) {
        round = p.round;
        modelVersion = p.modelVersion;
        active = p.activeLearners;
        participants = p.participants.size();
    }

    @Override
    public void registeredLearners(long registered) {
        this.registered = registered;
    }

    @Override
    public void result(RoundResult r) {
        lastRound = r.round;
        lastRoundDurationMs = r.roundTimeMs;
        lastContributors = r.contributors == null ? 0 : r.contributors.size();
        lastAccuracy = metric(r.evalMetrics, "accuracy");
        lastLoss = metric(r.evalMetrics, "loss");
        lastTrainLoss = metric(r.trainMetrics, "loss");
        roundsCompleted.inc();
    }

    private static double metric(Map<String, Double> metrics, String name) {
        Double v = metrics == null ? null : metrics.get(name);
        return v == null ? Double.NaN : v;
    }
}
