package org.metisfl.learner.task;

import java.util.Map;

/**
 * The outcome of an evaluation: metrics over {@code numExamples} test examples.
 *
 * @param numExamples test examples evaluated (the weight of these metrics)
 * @param metrics e.g. {@code accuracy} and {@code loss}
 */
public record EvaluationResult(long numExamples, Map<String, Double> metrics) {
    public EvaluationResult {
        metrics = Map.copyOf(metrics);
    }
}
