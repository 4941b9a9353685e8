package org.metisfl.learner.internal;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Map;
import java.util.TreeMap;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.proto.v1.Task;

/** Maps generated proto messages to the library's value types, so they never leak out. */
final class Protos {
    private Protos() {}

    static TrainTask trainTask(Task task) {
        org.metisfl.proto.v1.TrainTask t = task.getTrain();
        return new TrainTask(
                task.getRound(),
                t.getEpochs(),
                t.getBatchSize(),
                t.getLearningRate(),
                t.getLocalSteps(),
                t.getDeadlineUnixMs(),
                t.getProximalMu());
    }

    static EvaluateTask evaluateTask(Task task) {
        return new EvaluateTask(task.getRound(), task.getEvaluate().getBatchSize());
    }

    /**
     * Metrics for a log line, sorted, 4 significant digits: {@code ", accuracy 0.87, loss 0.43"}.
     */
    static String formatMetrics(Map<String, Double> metrics) {
        StringBuilder s = new StringBuilder();
        for (Map.Entry<String, Double> e : new TreeMap<>(metrics).entrySet()) {
            s.append(", ").append(e.getKey()).append(' ').append(formatNumber(e.getValue()));
        }
        return s.toString();
    }

    static String formatNumber(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return Double.toString(v);
        }
        return new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
