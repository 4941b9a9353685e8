package org.metisfl.crypto;

/** A public encryption key; anyone may hold it. */
public interface PublicKey {

    String backendId();

    byte[] parameterHash();

    /** The fingerprint of the key pair (a copy). */
    byte[] keyId();
}
