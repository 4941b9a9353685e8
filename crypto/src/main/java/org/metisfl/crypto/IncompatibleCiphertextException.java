package org.metisfl.crypto;

/**
 * A well-formed ciphertext or key that does not fit the operation: another backend, other
 * parameters (parameter hash), another key pair, or another scale or value count.
 */
public class IncompatibleCiphertextException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public IncompatibleCiphertextException(String message) {
        super(message);
    }
}
