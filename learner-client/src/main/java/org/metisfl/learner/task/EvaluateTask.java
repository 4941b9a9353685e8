package org.metisfl.learner.task;

/**
 * Evaluate the global model of one round on the local test data.
 *
 * @param round the round whose global model is evaluated
 * @param batchSize evaluation batch size
 */
public record EvaluateTask(long round, int batchSize) {}
