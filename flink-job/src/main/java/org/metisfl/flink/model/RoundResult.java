package org.metisfl.flink.model;

import java.util.List;
import java.util.Map;

/** What one round achieved: one line of the federation's results file (a Flink POJO). */
public class RoundResult {
    public String federation;
    public long round;
    public int participants;
    public List<String> contributors;

    /** Participants dropped from the round: their task stream was gone past the grace period. */
    public List<String> dropped;

    public boolean aborted;
    public long startedAtMs;
    public long closedAtMs;
    public long roundTimeMs;

    /** Example-weighted mean of the contributors' training metrics. */
    public Map<String, Double> trainMetrics;

    /** Example-weighted mean of the evaluation metrics of the round's new global model. */
    public Map<String, Double> evalMetrics;

    public long evalExamples;
    public int evaluators;
    public int evaluationsReceived;

    /**
     * Central DP: the epsilon spent so far (this round included) for {@link #delta}, by the
     * Rényi-DP accountant; absent without a privacy mechanism.
     */
    public Double epsilon;

    /** Central DP: the delta that {@link #epsilon} is for. */
    public Double delta;

    /** Central DP: the L2 norm this round's update deltas were clipped to. */
    public Double clipNorm;

    /** This is the federation's last round. */
    public boolean last;

    public RoundResult() {}
}
