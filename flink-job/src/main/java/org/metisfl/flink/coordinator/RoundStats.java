package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.model.MemberIndex;

/** What is known of one round until its result is written (a Flink POJO in keyed state). */
public class RoundStats {
    public long round;
    public int participants;
    public long startedAt;
    public long closedAt;
    public boolean aborted;
    public boolean last;
    public List<String> contributors = new ArrayList<>();
    public List<String> dropped = new ArrayList<>();
    public List<String> trainReporters = new ArrayList<>();
    public Map<String, Double> trainSums = new HashMap<>();

    /** Per metric key: the total weight of the reports that carried that key. */
    public Map<String, Double> trainWeights = new HashMap<>();

    public double trainWeight;
    public List<String> expectedEvaluators = new ArrayList<>();
    public List<String> evalReporters = new ArrayList<>();
    public Map<String, Double> evalSums = new HashMap<>();
    public Map<String, Double> evalWeights = new HashMap<>();
    public long evalExamples;

    /** Central DP: active learners when the round opened (the sampling rate's denominator). */
    public int active;

    /** Central DP: contributors whose update delta was within the clip norm. */
    public int unclipped;

    /** Central DP: the round's clip norm, and epsilon spent through this round (NaN: none). */
    public double clipNorm = Double.NaN;

    public double epsilon = Double.NaN;

    public double delta = Double.NaN;

    /** O(1) membership over the lists above (rebuilt after a restore or a reassignment). */
    private transient MemberIndex trainReporterIndex;

    private transient MemberIndex expectedEvaluatorIndex;
    private transient MemberIndex evalReporterIndex;

    public RoundStats() {}

    boolean hasTrainReport(String learner) {
        return trainReporterIndex().contains(learner);
    }

    /** Records {@code learner}'s training report; false if it had reported already. */
    boolean addTrainReporter(String learner) {
        return trainReporterIndex().add(learner);
    }

    /** Records {@code learner}'s evaluation if it was asked for one and has not answered yet. */
    boolean addEvalReporter(String learner) {
        expectedEvaluatorIndex = MemberIndex.of(expectedEvaluatorIndex, expectedEvaluators);
        evalReporterIndex = MemberIndex.of(evalReporterIndex, evalReporters);
        return expectedEvaluatorIndex.contains(learner) && evalReporterIndex.add(learner);
    }

    private MemberIndex trainReporterIndex() {
        return trainReporterIndex = MemberIndex.of(trainReporterIndex, trainReporters);
    }

    /**
     * Adds {@code w} times each finite metric to its key's sum, and {@code w} to that key's weight:
     * a metric is averaged over the reports that carry it, not over every report.
     */
    static void addWeighted(
            Map<String, Double> sums,
            Map<String, Double> weights,
            Map<String, Double> metrics,
            double w) {
        if (metrics == null) {
            return;
        }
        for (Map.Entry<String, Double> m : metrics.entrySet()) {
            if (m.getValue() != null && Double.isFinite(m.getValue())) {
                sums.merge(m.getKey(), w * m.getValue(), Double::sum);
                weights.merge(m.getKey(), w, Double::sum);
            }
        }
    }

    /** Each key's weighted mean; keys whose reports weigh nothing are left out. */
    static Map<String, Double> mean(Map<String, Double> sums, Map<String, Double> weights) {
        Map<String, Double> out = new HashMap<>();
        sums.forEach(
                (k, v) -> {
                    Double w = weights == null ? null : weights.get(k);
                    if (w != null && w > 0) {
                        out.put(k, v / w);
                    }
                });
        return out;
    }
}
