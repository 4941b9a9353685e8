package org.metisfl.crypto;

/**
 * An encrypted vector of up to {@link HeContext#valuesPerCiphertext()} real values. Immutable;
 * operations return new ciphertexts. Only the context that made it (same backend, same parameter
 * hash) can operate on it.
 */
public interface Ciphertext {

    String backendId();

    /** SHA-256 of the backend's canonical parameter description (a copy). */
    byte[] parameterHash();

    /** The fingerprint of the key pair it is encrypted under (a copy). */
    byte[] keyId();

    /** How many values it carries (decryption returns exactly this many). */
    int valueCount();
}
