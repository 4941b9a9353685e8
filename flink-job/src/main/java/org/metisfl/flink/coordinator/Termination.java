package org.metisfl.flink.coordinator;

import java.util.Map;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.config.FederationOptions;

/**
 * When a federation ends: after {@code federation.rounds} rounds (or model versions), when {@code
 * termination.max-duration} has passed since its first round, or when an evaluated metric reaches
 * {@code termination.metric-cutoff}; and the reason it gives.
 */
public final class Termination {
    private final int rounds;
    private final long maxDurationMs;
    private final String metric;
    private final double cutoff;
    private final FederationOptions.MetricGoal goal;

    public Termination(CoordinatorOptions options) {
        this.rounds = options.rounds();
        this.maxDurationMs = options.maxDurationMs();
        this.metric = options.terminationMetric().orElse(null);
        this.cutoff = options.terminationCutoff();
        this.goal = options.terminationGoal();
    }

    /** True once the federation's wall-clock limit has passed since it started. */
    public boolean outOfTime(long nowMs, long federationStartedAtMs) {
        return maxDurationMs > 0 && nowMs - federationStartedAtMs >= maxDurationMs;
    }

    /** True if round (or model version) {@code n} is the last one. */
    public boolean isLast(long n, boolean outOfTime) {
        return n >= rounds || outOfTime;
    }

    /** True if {@code n} is below the configured count, that is, the time limit ended it. */
    public boolean endedEarly(long n) {
        return n < rounds;
    }

    public String maxDurationReason() {
        return "reached termination.max-duration (" + maxDurationMs + " ms)";
    }

    /** "completed N rounds" (or another unit, such as "model versions"). */
    public String completed(String unit) {
        return "completed " + rounds + " " + unit;
    }

    /** True if the evaluation metrics reach the configured cutoff. */
    public boolean reachedCutoff(Map<String, Double> evalMetrics) {
        if (metric == null || evalMetrics == null) {
            return false;
        }
        Double v = evalMetrics.get(metric);
        if (v == null) {
            return false;
        }
        return goal == FederationOptions.MetricGoal.MAX ? v >= cutoff : v <= cutoff;
    }

    public String cutoffReason(Map<String, Double> evalMetrics, long round) {
        return metric
                + " "
                + evalMetrics.get(metric)
                + " reached the cutoff "
                + cutoff
                + " after round "
                + round;
    }
}
