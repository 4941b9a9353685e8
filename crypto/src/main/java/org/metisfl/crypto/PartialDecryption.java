package org.metisfl.crypto;

/**
 * One member's partial decryption d_i = c1·s_i + e_i of one ciphertext, with smudging noise e_i
 * (threshold mode). It names the member, the ciphertext's key and a digest of the ciphertext, so
 * that partial decryptions of different ciphertexts or committees are never combined.
 */
public interface PartialDecryption {

    String backendId();

    byte[] parameterHash();

    /** The member's share id (a copy). */
    byte[] shareId();

    /** The key id of the decrypted ciphertext, the committee's joint key (a copy). */
    byte[] keyId();

    /** SHA-256 of the decrypted ciphertext's contents (a copy). */
    byte[] ciphertextDigest();

    int valueCount();
}
