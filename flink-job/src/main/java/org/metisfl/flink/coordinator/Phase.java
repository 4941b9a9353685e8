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
    FINISHED,
    /** Threshold mode: the committee makes its joint key; no round runs before it exists. */
    KEYING,
    /** Threshold mode: the committee decrypts the closed round's aggregate. */
    DECRYPTING
}
