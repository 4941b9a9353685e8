package org.metisfl.crypto;

/** Bytes that are not a valid serialized ciphertext or key (truncated, corrupt, out of range). */
public class MalformedCiphertextException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public MalformedCiphertextException(String message) {
        super(message);
    }
}
