package org.metisfl.crypto;

import java.util.List;

/**
 * The committee of a threshold key: its joint public key b = Σ b_i (with the common a) and the
 * share ids of its members, all of whom must take part in every decryption (n-out-of-n).
 */
public interface Committee {

    /** The joint public key: learners encrypt with it as with any public key. */
    PublicKey jointKey();

    /** The members' share ids (lower-case hex), sorted. */
    List<String> memberIds();

    default int size() {
        return memberIds().size();
    }
}
