package org.metisfl.learner.task;

/**
 * What the controller asks of one local training run.
 *
 * @param round the federation round this training belongs to
 * @param epochs passes over the local training data (used when {@code localSteps} is 0)
 * @param batchSize mini-batch size
 * @param learningRate learning rate, or 0 to keep the model's own
 * @param localSteps if &gt; 0, run exactly this many mini-batches instead of {@code epochs}
 * @param deadlineUnixMs the round's deadline; an update arriving later is refused
 */
public record TrainTask(
        long round,
        int epochs,
        int batchSize,
        double learningRate,
        long localSteps,
        long deadlineUnixMs) {}
