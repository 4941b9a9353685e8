package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** What is known of one round until its result is written (a Flink POJO in keyed state). */
public class RoundStats {
    public long round;
    public int participants;
    public long startedAt;
    public long closedAt;
    public boolean aborted;
    public boolean last;
    public List<String> contributors = new ArrayList<>();
    public List<String> trainReporters = new ArrayList<>();
    public Map<String, Double> trainSums = new HashMap<>();
    public double trainWeight;
    public List<String> expectedEvaluators = new ArrayList<>();
    public List<String> evalReporters = new ArrayList<>();
    public Map<String, Double> evalSums = new HashMap<>();
    public long evalExamples;

    /** Indexes of the lists above for O(1) membership checks (rebuilt after a restore). */
    private transient Set<String> trainReporterIndex;

    private transient Set<String> expectedEvaluatorIndex;
    private transient Set<String> evalReporterIndex;

    public RoundStats() {}

    boolean hasTrainReport(String learner) {
        if (trainReporterIndex == null) {
            trainReporterIndex = new HashSet<>(trainReporters);
        }
        return trainReporterIndex.contains(learner);
    }

    /** Records {@code learner}'s training report; false if it had reported already. */
    boolean addTrainReporter(String learner) {
        if (hasTrainReport(learner)) {
            return false;
        }
        trainReporterIndex.add(learner);
        trainReporters.add(learner);
        return true;
    }

    void expectEvaluators(List<String> learners) {
        expectedEvaluators = learners;
        expectedEvaluatorIndex = null;
    }

    /** Records {@code learner}'s evaluation if it was asked for one and has not answered yet. */
    boolean addEvalReporter(String learner) {
        if (expectedEvaluatorIndex == null) {
            expectedEvaluatorIndex = new HashSet<>(expectedEvaluators);
            evalReporterIndex = new HashSet<>(evalReporters);
        }
        if (!expectedEvaluatorIndex.contains(learner) || !evalReporterIndex.add(learner)) {
            return false;
        }
        evalReporters.add(learner);
        return true;
    }

    static void addWeighted(Map<String, Double> sums, Map<String, Double> metrics, double w) {
        if (metrics == null) {
            return;
        }
        for (Map.Entry<String, Double> m : metrics.entrySet()) {
            if (m.getValue() != null && Double.isFinite(m.getValue())) {
                sums.merge(m.getKey(), w * m.getValue(), Double::sum);
            }
        }
    }

    static Map<String, Double> mean(Map<String, Double> sums, double weight) {
        Map<String, Double> out = new HashMap<>();
        if (weight > 0) {
            sums.forEach((k, v) -> out.put(k, v / weight));
        }
        return out;
    }
}
