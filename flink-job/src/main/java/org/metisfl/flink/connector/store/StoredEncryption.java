package org.metisfl.flink.connector.store;

import java.util.ArrayList;
import java.util.List;

/**
 * How a stored version of a CKKS federation is encrypted ({@link StoredModel#encryption}): what
 * {@code ModelHeader.encryption} tells learners when they download it, plus the weight sum its
 * shards carry. The version's {@code v<version>.ckks} holds the shards' ciphertexts exactly as
 * learners receive them; decrypting needs the key bundle whose key id this names.
 */
public class StoredEncryption {
    /** The HE backend's id, e.g. {@code metisfl-ckks}. */
    public String backendId;

    /** Lower-case hex SHA-256 of the scheme's parameters. */
    public String parameterHash;

    /** The parameter preset, e.g. {@code n13-q120}. */
    public String preset;

    /** Model values per shard (a whole number of ciphertexts); the last shard may be shorter. */
    public int shardSize;

    /** Lower-case hex fingerprint of the key pair the ciphertexts are under. */
    public String keyId;

    /** Each shard's byte length in the {@code .ckks} file, in order. */
    public List<Long> shardBytes = new ArrayList<>();

    /** The plaintext Σw every shard carries (1 for an initial model); values = sum / weightSum. */
    public double weightSum;

    public StoredEncryption() {}

    /** The total byte length of the shards. */
    public long totalBytes() {
        long n = 0;
        for (long b : shardBytes) {
            n += b;
        }
        return n;
    }
}
