package org.metisfl.crypto;

/**
 * A member's Shamir share s̃_j of the joint secret for t-out-of-n decryption: any t members' shares
 * determine s = Σ λ_j·s̃_j (Lagrange coefficients modulo each RNS prime); t − 1 of them reveal
 * nothing about s. Secret: it never leaves the member.
 */
public interface ShamirKeyShare {

    String backendId();

    byte[] parameterHash();

    /** The member's share id (a copy), as in its additive {@link SecretKeyShare}. */
    byte[] shareId();

    /** The member's evaluation point: its 1-based position in {@link Committee#memberIds()}. */
    int index();

    /** t: how many members must answer a decryption. */
    int threshold();

    /** The joint key's id (a copy): the committee this share belongs to. */
    byte[] keyId();
}
