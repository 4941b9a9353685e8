package org.metisfl.crypto;

/**
 * One committee member's share b_i = -a·s_i + e_i of a joint public key (threshold mode): public,
 * sent to whoever combines the committee's shares ({@link ThresholdHe#combineKeyShares}).
 */
public interface PublicKeyShare {

    String backendId();

    byte[] parameterHash();

    /** The fingerprint of this share (a copy): it names the member in partial decryptions. */
    byte[] shareId();

    /** The public seed of the common polynomial a (a copy); every share of a committee has it. */
    byte[] commonSeed();
}
