package org.metisfl.transport;

/** A transport-security setting or file is wrong; the message names it and the fix. */
public final class TransportConfigException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public TransportConfigException(String message) {
        super(message);
    }
}
