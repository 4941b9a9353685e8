package org.metisfl.crypto;

/**
 * One committee member's additive share s_i of the joint secret s = Σ s_i (threshold mode). It
 * never leaves the member; alone it decrypts nothing.
 */
public interface SecretKeyShare {

    String backendId();

    byte[] parameterHash();

    /** The fingerprint of the matching {@link PublicKeyShare} (a copy). */
    byte[] shareId();

    /** The public seed of the common polynomial a (a copy). */
    byte[] commonSeed();
}
