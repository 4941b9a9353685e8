package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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

    public RoundStats() {}

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
