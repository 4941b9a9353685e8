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
 * @param proximalMu FedProx: weight of the proximal term (mu/2)||w - w_global||^2; 0 = none
 */
public record TrainTask(
        long round,
        int epochs,
        int batchSize,
        double learningRate,
        long localSteps,
        long deadlineUnixMs,
        double proximalMu) {

    /** A task without a proximal term (plain FedAvg local training). */
    public TrainTask(
            long round,
            int epochs,
            int batchSize,
            double learningRate,
            long localSteps,
            long deadlineUnixMs) {
        this(round, epochs, batchSize, learningRate, localSteps, deadlineUnixMs, 0.0);
    }
}
