package org.metisfl.learner.internal;

import java.util.HexFormat;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.ThresholdShards;

/**
 * A threshold committee's joint public key as a learner uses it: updates are encrypted under it
 * (public-key ciphertexts, {@link ThresholdShards#encryptShard}); nothing decrypts under it alone.
 */
public final class JointKey implements SecureAggregation.ShardKeys {
    private final HeContext he;
    private final String preset;
    private final PublicKey key;
    private final long epoch;
    private final ThresholdShards shards;

    /**
     * @param he the federation's backend and parameters
     * @param preset their preset name
     * @param serializedKey the joint public key as the gateway sends it
     * @param epoch the committee epoch the key belongs to
     * @throws IllegalArgumentException if the bytes are no public key of these parameters
     */
    public JointKey(HeContext he, String preset, byte[] serializedKey, long epoch) {
        this.he = he;
        this.preset = preset;
        this.key = he.deserializePublicKey(serializedKey);
        this.epoch = epoch;
        this.shards = ThresholdShards.of(he);
    }

    public long epoch() {
        return epoch;
    }

    public PublicKey publicKey() {
        return key;
    }

    public HeContext context() {
        return he;
    }

    @Override
    public String backendId() {
        return he.backendId();
    }

    @Override
    public String preset() {
        return preset;
    }

    @Override
    public String parameterHash() {
        return HexFormat.of().formatHex(he.parameterHash());
    }

    @Override
    public String keyId() {
        return HexFormat.of().formatHex(key.keyId());
    }

    @Override
    public int valuesPerCiphertext() {
        return he.valuesPerCiphertext();
    }

    @Override
    public byte[] encryptShard(float[] values) {
        return shards.encryptShard(key, values);
    }

    @Override
    public float[] decryptShard(byte[] shard) {
        throw new IllegalArgumentException(
                "in threshold mode no learner holds the secret key: a model encrypted under the"
                        + " committee's joint key "
                        + keyId()
                        + " is decrypted by the committee's partial decryptions, not by a"
                        + " learner");
    }

    @Override
    public String toString() {
        return "joint key " + keyId() + " of committee epoch " + epoch;
    }
}
