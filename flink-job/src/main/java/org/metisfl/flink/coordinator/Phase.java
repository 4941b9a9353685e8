package org.metisfl.flink.coordinator;

/** Where a federation is in its life. */
public enum Phase {
    /** No global model yet: waiting for the first learner's weights. */
    WAITING_FOR_MODEL,
    /** A model, but too few active learners to start a round. */
    WAITING_FOR_LEARNERS,
    /** A round is running. */
    TRAINING,
    /** All rounds done; the last model is being evaluated. */
    FINAL_EVALUATION,
    FINISHED
}
