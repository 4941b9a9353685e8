package org.metisfl.learner;

/**
 * Why {@link Learner#run()} stopped before the federation ended: the gateways stayed unreachable
 * past {@link LearnerOptions#maxReconnectAttempts()}, the gateway refused the learner for a reason
 * retrying cannot fix, or the model adapter failed. The message says which and what to do.
 */
public class LearnerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LearnerException(String message) {
        super(message);
    }

    public LearnerException(String message, Throwable cause) {
        super(message, cause);
    }
}
