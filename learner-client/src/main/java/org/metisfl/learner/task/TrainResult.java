package org.metisfl.learner.task;

import java.util.Map;

/**
 * The outcome of one local training run.
 *
 * @param numTrainingExamples examples the update was trained on (its FedAvg weight), &gt; 0
 * @param numCompletedBatches mini-batches completed
 * @param metrics training metrics, e.g. {@code loss}
 */
public record TrainResult(
        long numTrainingExamples, long numCompletedBatches, Map<String, Double> metrics) {
    public TrainResult {
        metrics = Map.copyOf(metrics);
    }
}
