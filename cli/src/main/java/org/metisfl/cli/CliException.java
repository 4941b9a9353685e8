package org.metisfl.cli;

/**
 * A failure the user can act on: its message is one line naming the problem and the fix, printed as
 * {@code metisfl: <message>}; the command exits with {@link #exitCode()}.
 */
public final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Exit code of a failure of the cluster, a job, or the network. */
    public static final int FAILED = 1;

    /** Exit code of bad input: a command line or a federation file. */
    public static final int USAGE = 2;

    private final int exitCode;

    public CliException(String message) {
        this(message, FAILED, null);
    }

    public CliException(String message, int exitCode) {
        this(message, exitCode, null);
    }

    public CliException(String message, int exitCode, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
