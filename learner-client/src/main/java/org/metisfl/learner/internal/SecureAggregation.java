package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.TensorSpec;

/**
 * A learner's side of secure aggregation with CKKS (shared-key mode): checks at join that the
 * learner's key bundle is the federation's, encrypts an update shard by shard into the wire bytes
 * of {@code UpdateHeader.encryption}, and decrypts an encrypted global model into the weighted mean
 * while its chunks arrive. The model adapter only ever sees plaintext.
 *
 * <p>The layout ({@code learner.proto}, message {@code Encryption}): the values of all tensors in
 * spec order are cut into shards of {@code shard_size} values, each shard is one {@code
 * ShardCiphertexts} byte string, and the data bytes are those shards concatenated.
 */
public final class SecureAggregation {

    /**
     * What encrypts a shard, and decrypts one of the global model where the learner can: a shared
     * key bundle, or a threshold committee's joint public key (no learner decrypts alone).
     */
    public interface ShardKeys {
        String backendId();

        String preset();

        String parameterHash();

        /** The key id (hex) updates are encrypted under. */
        String keyId();

        int valuesPerCiphertext();

        /** One shard of an update into its wire bytes ({@code ShardCiphertexts}). */
        byte[] encryptShard(float[] values);

        /**
         * One shard of the global model into the weighted mean.
         *
         * @throws IllegalArgumentException if these keys cannot decrypt it
         */
        float[] decryptShard(byte[] shard);

        /** A shared key bundle. */
        static ShardKeys of(KeyBundle bundle) {
            return new ShardKeys() {
                @Override
                public String backendId() {
                    return bundle.backendId();
                }

                @Override
                public String preset() {
                    return bundle.preset();
                }

                @Override
                public String parameterHash() {
                    return bundle.parameterHash();
                }

                @Override
                public String keyId() {
                    return bundle.keyId();
                }

                @Override
                public int valuesPerCiphertext() {
                    return bundle.valuesPerCiphertext();
                }

                @Override
                public byte[] encryptShard(float[] values) {
                    return bundle.encryptShard(values);
                }

                @Override
                public float[] decryptShard(byte[] shard) {
                    return bundle.decryptShard(shard);
                }
            };
        }
    }

    private final ShardKeys keys;
    private final int shardSize;
    private final boolean deltas;
    private final boolean threshold;

    private SecureAggregation(ShardKeys keys, int shardSize, boolean deltas, boolean threshold) {
        this.keys = keys;
        this.shardSize = shardSize;
        this.deltas = deltas;
        this.threshold = threshold;
    }

    /**
     * Threshold mode: updates are encrypted under the committee's joint public key, whose secret no
     * learner holds; the learner never decrypts a model itself.
     */
    public static SecureAggregation threshold(ShardKeys jointKey, int shardSize, boolean deltas) {
        return new SecureAggregation(jointKey, shardSize, deltas, true);
    }

    /** True in threshold mode (updates under the committee's joint key). */
    public boolean threshold() {
        return threshold;
    }

    /**
     * What the learner does in the federation its gateway described at join: null for a plaintext
     * federation joined without a key, else the encryption to use.
     *
     * @param keys the learner's key bundle, or null
     * @param federation the JoinResponse's encryption, or null if it has none (plaintext)
     * @param gateway the gateway's address, for the messages
     * @throws IllegalStateException naming what differs and the fix, when the learner cannot take
     *     part with the key it holds
     */
    public static SecureAggregation atJoin(KeyBundle keys, Encryption federation, String gateway) {
        if (federation == null) {
            if (keys != null) {
                throw new IllegalStateException(
                        "this learner holds a CKKS key bundle (backend "
                                + keys.backendId()
                                + ", preset "
                                + keys.preset()
                                + ", key id "
                                + keys.keyId()
                                + ") but the federation at "
                                + gateway
                                + " aggregates plaintext updates (no secure-aggregation): join"
                                + " without the key (no --ckks-key / LearnerOptions.keyBundle),"
                                + " or join the CKKS federation it belongs to");
            }
            return null;
        }
        String what =
                "the federation at "
                        + gateway
                        + " aggregates with secure aggregation (backend "
                        + federation.getBackendId()
                        + ", preset "
                        + federation.getPreset()
                        + ", parameter hash "
                        + abbreviate(federation.getParameterHash())
                        + ")";
        if (keys == null) {
            throw new IllegalStateException(
                    what
                            + " but this learner has no key bundle: give it the federation's"
                            + " secret key ("
                            + KeyBundle.SECRET_FILE
                            + ", from 'metisfl keys generate') with --ckks-key DIR or"
                            + " LearnerOptions.builder().keyBundle(KeyBundle.load(file))");
        }
        if (!keys.backendId().equals(federation.getBackendId())) {
            throw new IllegalStateException(
                    what
                            + " but this learner's key bundle is for backend "
                            + keys.backendId()
                            + ": give it the federation's key bundle");
        }
        if (!keys.parameterHash().equals(federation.getParameterHash())) {
            throw new IllegalStateException(
                    what
                            + " but this learner's key bundle has other parameters (preset "
                            + keys.preset()
                            + ", parameter hash "
                            + abbreviate(keys.parameterHash())
                            + "): give it the federation's key bundle");
        }
        if (!federation.getPreset().isEmpty() && !keys.preset().equals(federation.getPreset())) {
            throw new IllegalStateException(
                    what
                            + " but this learner's key bundle is of preset "
                            + keys.preset()
                            + ": give it the federation's key bundle");
        }
        if (!federation.getKeyId().isEmpty() && !federation.getKeyId().equals(keys.keyId())) {
            throw new IllegalStateException(
                    what
                            + " under key "
                            + federation.getKeyId()
                            + " but this learner's key bundle is key "
                            + keys.keyId()
                            + " (same parameters, another key pair): it could not decrypt the"
                            + " federation's models; give it the federation's "
                            + KeyBundle.SECRET_FILE);
        }
        int shardSize = federation.getShardSize();
        if (shardSize <= 0 || shardSize % keys.valuesPerCiphertext() != 0) {
            throw new IllegalStateException(
                    what
                            + " but announces a shard size of "
                            + shardSize
                            + " values, which is no positive multiple of the "
                            + keys.valuesPerCiphertext()
                            + " values per ciphertext; the gateway and this learner disagree"
                            + " on the protocol");
        }
        return new SecureAggregation(ShardKeys.of(keys), shardSize, federation.getDelta(), false);
    }

    public int shardSize() {
        return shardSize;
    }

    public ShardKeys keys() {
        return keys;
    }

    /**
     * True if the federation aggregates encrypted deltas (FedBuff over ciphertexts, {@code
     * JoinResponse.encryption.delta}): a training update is then {@link #encryptDelta}.
     */
    public boolean deltas() {
        return deltas;
    }

    /**
     * Encrypts {@code trained - base} tensor by tensor, marked {@code encryption.delta = true}:
     * {@code base} is the model the update was trained from, as this learner decrypted it.
     */
    public EncryptedModel encryptDelta(List<NamedTensor> trained, List<NamedTensor> base) {
        if (trained.size() != base.size()) {
            throw new IllegalArgumentException(
                    trained.size() + " trained tensors against a model of " + base.size());
        }
        List<NamedTensor> delta = new java.util.ArrayList<>(trained.size());
        for (int t = 0; t < trained.size(); t++) {
            float[] x = trained.get(t).values();
            float[] b = base.get(t).values();
            if (x.length != b.length) {
                throw new IllegalArgumentException(
                        "tensor " + trained.get(t).name() + " changed size in training");
            }
            float[] d = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                d[i] = x[i] - b[i];
            }
            delta.add(new NamedTensor(trained.get(t).name(), trained.get(t).shape(), d));
        }
        EncryptedModel m = encrypt(delta);
        return new EncryptedModel(
                m.specs(), m.data(), m.encryption().toBuilder().setDelta(true).build());
    }

    /** An encrypted update: its plaintext tensor specs, its data bytes and their encryption. */
    public record EncryptedModel(List<TensorSpec> specs, ByteString data, Encryption encryption) {}

    /** Encrypts tensors shard by shard (compact secret-key ciphertexts). */
    public EncryptedModel encrypt(List<NamedTensor> tensors) {
        List<TensorSpec> specs = TensorCodec.specs(tensors);
        long total = 0;
        for (NamedTensor t : tensors) {
            total += t.size();
        }
        Encryption.Builder encryption = header();
        ByteString data = ByteString.EMPTY;
        float[] shard = new float[(int) Math.min(shardSize, total)];
        int filled = 0;
        long done = 0;
        for (NamedTensor t : tensors) {
            float[] values = t.values();
            int at = 0;
            while (at < values.length) {
                int n = Math.min(values.length - at, shard.length - filled);
                System.arraycopy(values, at, shard, filled, n);
                at += n;
                filled += n;
                if (filled == shard.length) {
                    byte[] bytes = keys.encryptShard(shard);
                    data = data.concat(UnsafeByteOperations.unsafeWrap(bytes));
                    encryption.addShardBytes(bytes.length);
                    done += filled;
                    filled = 0;
                    long left = total - done;
                    if (left > 0 && left < shard.length) {
                        shard = new float[(int) left];
                    }
                }
            }
        }
        return new EncryptedModel(specs, data, encryption.build());
    }

    private Encryption.Builder header() {
        Encryption.Builder b =
                Encryption.newBuilder()
                        .setBackendId(keys.backendId())
                        .setParameterHash(keys.parameterHash())
                        .setPreset(keys.preset())
                        .setShardSize(shardSize);
        if (threshold) {
            // the gateway checks it against the joint key it serves
            b.setKeyId(keys.keyId());
        }
        return b;
    }

    /**
     * Starts decrypting a downloaded model whose header carries {@code encryption}.
     *
     * @throws IllegalArgumentException if the header does not fit this federation's encryption or
     *     the tensor specs
     */
    public Decryptor decryptor(List<TensorSpec> specs, long totalBytes, Encryption encryption) {
        if (!encryption.getBackendId().equals(keys.backendId())
                || !encryption.getParameterHash().equals(keys.parameterHash())) {
            throw new IllegalArgumentException(
                    "the model is encrypted with backend "
                            + encryption.getBackendId()
                            + " and parameter hash "
                            + abbreviate(encryption.getParameterHash())
                            + ", not this federation's ("
                            + keys.backendId()
                            + ", "
                            + abbreviate(keys.parameterHash())
                            + ")");
        }
        if (!encryption.getKeyId().isEmpty() && !encryption.getKeyId().equals(keys.keyId())) {
            throw new DecryptionFailed(
                    "the model is encrypted under key "
                            + encryption.getKeyId()
                            + ", this learner holds key "
                            + keys.keyId(),
                    null);
        }
        if (encryption.getShardSize() != shardSize) {
            throw new IllegalArgumentException(
                    "the model is cut into shards of "
                            + encryption.getShardSize()
                            + " values, the federation announced "
                            + shardSize);
        }
        return new Decryptor(specs, totalBytes, encryption.getShardBytesList());
    }

    /** Decrypts an encrypted model's shards as their bytes arrive; holds one shard of bytes. */
    public final class Decryptor {
        private final List<NamedTensor> tensors = new ArrayList<>();
        private final List<Long> shardBytes;
        private final long totalValues;
        private int tensor;
        private int tensorOffset;
        private int shard;
        private byte[] pending;
        private int pendingFilled;
        private long valuesDone;

        private Decryptor(List<TensorSpec> specs, long totalBytes, List<Long> shardBytes) {
            long values = TensorCodec.totalBytes(specs) / Float.BYTES;
            long expectedShards = (values + shardSize - 1) / shardSize;
            if (shardBytes.size() != expectedShards) {
                throw new IllegalArgumentException(
                        "the model has "
                                + shardBytes.size()
                                + " encrypted shards but its "
                                + values
                                + " values make "
                                + expectedShards
                                + " shards of "
                                + shardSize);
            }
            long sum = 0;
            for (long b : shardBytes) {
                if (b <= 0 || b > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException("impossible encrypted shard size " + b);
                }
                sum += b;
            }
            if (sum != totalBytes) {
                throw new IllegalArgumentException(
                        "model header announces "
                                + totalBytes
                                + " bytes but its encrypted shards add up to "
                                + sum);
            }
            for (TensorSpec spec : specs) {
                int count = (int) (TensorCodec.byteSize(spec) / Float.BYTES);
                long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
                tensors.add(new NamedTensor(spec.getName(), shape, new float[count]));
            }
            this.shardBytes = List.copyOf(shardBytes);
            this.totalValues = values;
            startShard();
        }

        private void startShard() {
            pending =
                    shard < shardBytes.size() ? new byte[(int) (long) shardBytes.get(shard)] : null;
            pendingFilled = 0;
        }

        /**
         * Takes the next chunk of data bytes, decrypting each shard once it is complete.
         *
         * @throws IllegalArgumentException for more bytes than announced, or a shard that does not
         *     decrypt under this key into the values it should hold
         */
        public void append(ByteString chunk) {
            int at = 0;
            while (at < chunk.size()) {
                if (pending == null) {
                    throw new IllegalArgumentException(
                            "model data overflows the announced encrypted shards");
                }
                int n = Math.min(chunk.size() - at, pending.length - pendingFilled);
                chunk.copyTo(pending, at, pendingFilled, n);
                at += n;
                pendingFilled += n;
                if (pendingFilled == pending.length) {
                    decryptPending();
                    shard++;
                    startShard();
                }
            }
        }

        private void decryptPending() {
            float[] mean;
            try {
                mean = keys.decryptShard(pending);
            } catch (IllegalArgumentException e) {
                throw new DecryptionFailed(
                        "encrypted shard " + shard + " does not decrypt: " + e.getMessage(), e);
            }
            long expected = Math.min(shardSize, totalValues - valuesDone);
            if (mean.length != expected) {
                throw new IllegalArgumentException(
                        "encrypted shard "
                                + shard
                                + " holds "
                                + mean.length
                                + " values, expected "
                                + expected);
            }
            int at = 0;
            while (at < mean.length) {
                float[] dst = tensors.get(tensor).values();
                int n = Math.min(mean.length - at, dst.length - tensorOffset);
                System.arraycopy(mean, at, dst, tensorOffset, n);
                at += n;
                tensorOffset += n;
                if (tensorOffset == dst.length) {
                    tensor++;
                    tensorOffset = 0;
                }
            }
            valuesDone += mean.length;
        }

        /** The decrypted model (the weighted mean); fails if shards are missing. */
        public List<NamedTensor> finish() {
            if (shard != shardBytes.size()) {
                throw new IllegalArgumentException(
                        "model data is incomplete: "
                                + shard
                                + " of "
                                + shardBytes.size()
                                + " encrypted shards received");
            }
            return tensors;
        }
    }

    /** A shard that does not decrypt under the learner's key (another key, other parameters). */
    public static final class DecryptionFailed extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        DecryptionFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) + "…" : hash;
    }
}
