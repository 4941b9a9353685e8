package org.metisfl.crypto;

/** A secret key: held by learners only, never by the controller. */
public interface SecretKey {

    String backendId();

    byte[] parameterHash();

    /** The fingerprint of the key pair (a copy), the same as the public key's. */
    byte[] keyId();
}
