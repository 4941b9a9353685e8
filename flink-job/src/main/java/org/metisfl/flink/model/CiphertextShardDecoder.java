package org.metisfl.flink.model;

import io.grpc.Status;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.ShardCiphertexts;

/**
 * The gateway's decoder of an encrypted upload ({@code secure-aggregation: ckks}): the data bytes
 * are the shards' {@link ShardCiphertexts}, concatenated, with the byte length of each announced in
 * the update's header. It cuts the bytes into shards as chunks arrive and, once all arrived, checks
 * every ciphertext against the federation's backend and parameters without any key, so that a bad
 * update is refused at the gateway (the round goes on) and never reaches an aggregator.
 *
 * <p>Every refusal is a {@link Refusal} with a {@link Reason} and a message the learner can act on;
 * {@link Refusal#status()} is its gRPC status (INVALID_ARGUMENT). Not thread-safe: one upload's
 * messages arrive one at a time.
 *
 * <pre>{@code
 * CiphertextShardDecoder d = CiphertextShardDecoder.of(he, totalValues, shardSize,
 *         header.getEncryption().getBackendId(), header.getEncryption().getParameterHash(),
 *         header.getEncryption().getShardBytesList());      // throws Refusal
 * d.append(chunk.getData().asReadOnlyByteBuffer());         // per chunk
 * Payload[] shards = d.payloads();                          // throws Refusal
 * }</pre>
 */
public final class CiphertextShardDecoder {

    /** Why an encrypted upload is refused. */
    public enum Reason {
        /** Bytes that are no ciphertexts (truncated, trailing bytes, impossible fields). */
        MALFORMED_CIPHERTEXT,
        /** Ciphertexts of another HE backend than the federation's. */
        FOREIGN_BACKEND,
        /** Ciphertexts under other parameters (another parameter hash). */
        WRONG_PARAMETER_HASH,
        /** A number of shards, ciphertexts or values that does not match the model. */
        WRONG_CIPHERTEXT_COUNT,
        /** Ciphertexts of one update under different keys. */
        MIXED_KEYS,
        /** Ciphertexts under another key than the federation's (when the job knows its key id). */
        WRONG_KEY
    }

    /** A refused encrypted upload: its reason and a message for the learner's log. */
    public static final class Refusal extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final Reason reason;

        Refusal(Reason reason, String message) {
            super(
                    reason.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                            + ": "
                            + message);
            this.reason = reason;
        }

        public Reason reason() {
            return reason;
        }

        /**
         * INVALID_ARGUMENT: the learner drops this update (it cannot become valid by resending).
         */
        public Status status() {
            return Status.INVALID_ARGUMENT.withDescription(getMessage());
        }
    }

    private final HeContext he;
    private final String parameterHash;
    private final long totalValues;
    private final int shardSize;
    private final long[] shardBytes;
    private final long totalBytes;
    private final byte[][] shards;

    private byte[] federationKeyId;
    private long receivedBytes;
    private int shard;
    private int inShard;

    private CiphertextShardDecoder(
            HeContext he, long totalValues, int shardSize, long[] shardBytes, long totalBytes) {
        this.he = he;
        this.parameterHash = HexFormat.of().formatHex(he.parameterHash());
        this.totalValues = totalValues;
        this.shardSize = shardSize;
        this.shardBytes = shardBytes;
        this.totalBytes = totalBytes;
        this.shards = new byte[shardBytes.length][];
    }

    /**
     * A decoder of an upload of {@code totalValues} model values in shards of {@code shardSize},
     * after checking what its header announces.
     *
     * @param maxBytes the most data bytes the gateway takes for one upload
     * @throws Refusal for another backend or parameter hash, or a shard count that does not match
     *     the model
     */
    public static CiphertextShardDecoder of(
            HeContext he,
            long totalValues,
            int shardSize,
            String backendId,
            String parameterHash,
            List<Long> shardBytes,
            long maxBytes) {
        if (!he.backendId().equals(backendId)) {
            throw new Refusal(
                    Reason.FOREIGN_BACKEND,
                    "the update is encrypted with backend '"
                            + backendId
                            + "', the federation uses '"
                            + he.backendId()
                            + "'");
        }
        String want = HexFormat.of().formatHex(he.parameterHash());
        if (!want.equalsIgnoreCase(parameterHash)) {
            throw new Refusal(
                    Reason.WRONG_PARAMETER_HASH,
                    "the update's parameter hash is "
                            + parameterHash
                            + ", the federation's parameters ("
                            + he.parameters()
                            + ") hash to "
                            + want
                            + "; use the federation's key bundle");
        }
        int expected = TensorSpecInfo.numShards(totalValues, shardSize);
        if (shardBytes.size() != expected) {
            throw new Refusal(
                    Reason.WRONG_CIPHERTEXT_COUNT,
                    "the update announces "
                            + shardBytes.size()
                            + " encrypted shards, the model's "
                            + totalValues
                            + " values make "
                            + expected
                            + " shards of "
                            + shardSize);
        }
        long total = 0;
        long[] sizes = new long[expected];
        for (int s = 0; s < expected; s++) {
            long b = shardBytes.get(s);
            if (b <= 0 || b > Integer.MAX_VALUE - 8 || (total += b) > maxBytes) {
                throw new Refusal(
                        Reason.MALFORMED_CIPHERTEXT,
                        "shard "
                                + s
                                + " announces "
                                + b
                                + " bytes (the upload may hold at most "
                                + maxBytes
                                + ")");
            }
            sizes[s] = b;
        }
        return new CiphertextShardDecoder(he, totalValues, shardSize, sizes, total);
    }

    /**
     * Refuses ciphertexts under another key than {@code keyIdHex} (the federation's key pair, from
     * its public parameters) with {@link Reason#WRONG_KEY}; null or empty: any one key.
     */
    public CiphertextShardDecoder expectingKey(String keyIdHex) {
        federationKeyId =
                keyIdHex == null || keyIdHex.isEmpty() ? null : HexFormat.of().parseHex(keyIdHex);
        return this;
    }

    public long totalBytes() {
        return totalBytes;
    }

    public long receivedBytes() {
        return receivedBytes;
    }

    public long remainingBytes() {
        return totalBytes - receivedBytes;
    }

    public boolean isComplete() {
        return receivedBytes == totalBytes;
    }

    /**
     * Copies the remaining bytes of {@code chunk} into the shards (its position is not moved).
     *
     * @throws IllegalArgumentException if they are more than {@link #remainingBytes()}; check
     *     before, to answer the learner
     */
    public void append(ByteBuffer chunk) {
        ByteBuffer in = chunk.duplicate();
        if (in.remaining() > remainingBytes()) {
            throw new IllegalArgumentException(
                    in.remaining() + " bytes are more than the " + remainingBytes() + " expected");
        }
        receivedBytes += in.remaining();
        while (in.hasRemaining()) {
            if (shards[shard] == null) {
                shards[shard] = new byte[(int) shardBytes[shard]];
            }
            int n = Math.min(in.remaining(), shards[shard].length - inShard);
            in.get(shards[shard], inShard, n);
            inShard += n;
            if (inShard == shards[shard].length) {
                shard++;
                inShard = 0;
            }
        }
    }

    /**
     * The shards as ciphertext payloads, once every byte arrived, each checked: well-formed, the
     * federation's backend and parameters, one key, as many ciphertexts and values as the shard.
     *
     * @throws Refusal naming the first shard and ciphertext that fails
     */
    public Payload[] payloads() {
        if (!isComplete()) {
            throw new IllegalStateException(receivedBytes + " of " + totalBytes + " bytes");
        }
        Payload[] out = new Payload[shards.length];
        byte[] keyId = null;
        for (int s = 0; s < shards.length; s++) {
            int values = (int) Math.min(shardSize, totalValues - (long) s * shardSize);
            ShardCiphertexts sc;
            try {
                sc = ShardCiphertexts.decode(shards[s]);
            } catch (MalformedCiphertextException e) {
                throw new Refusal(
                        Reason.MALFORMED_CIPHERTEXT, "shard " + s + ": " + e.getMessage());
            }
            int wantCount = he.ciphertextCount(values);
            if (sc.count() != wantCount) {
                throw new Refusal(
                        Reason.WRONG_CIPHERTEXT_COUNT,
                        "shard "
                                + s
                                + " holds "
                                + sc.count()
                                + " ciphertexts, its "
                                + values
                                + " values take "
                                + wantCount);
            }
            int per = he.valuesPerCiphertext();
            for (int i = 0; i < sc.count(); i++) {
                String where = "shard " + s + ", ciphertext " + i + ": ";
                Ciphertext c;
                try {
                    c = he.deserializeCiphertext(sc.ciphertexts().get(i));
                } catch (MalformedCiphertextException e) {
                    throw new Refusal(Reason.MALFORMED_CIPHERTEXT, where + e.getMessage());
                } catch (IncompatibleCiphertextException e) {
                    boolean backend = !he.backendId().equals(headerBackend(sc, i));
                    throw new Refusal(
                            backend ? Reason.FOREIGN_BACKEND : Reason.WRONG_PARAMETER_HASH,
                            where + e.getMessage());
                }
                int wantValues = Math.min(per, values - i * per);
                if (c.valueCount() != wantValues) {
                    throw new Refusal(
                            Reason.WRONG_CIPHERTEXT_COUNT,
                            where + c.valueCount() + " values, the model needs " + wantValues);
                }
                if (federationKeyId != null && !Arrays.equals(federationKeyId, c.keyId())) {
                    throw new Refusal(
                            Reason.WRONG_KEY,
                            where
                                    + "encrypted under key "
                                    + HexFormat.of().formatHex(c.keyId())
                                    + ", the federation's key is "
                                    + HexFormat.of().formatHex(federationKeyId)
                                    + "; use the federation's key bundle");
                }
                if (keyId == null) {
                    keyId = c.keyId();
                } else if (!Arrays.equals(keyId, c.keyId())) {
                    throw new Refusal(Reason.MIXED_KEYS, where + "under another key");
                }
            }
            out[s] = Payload.ciphertext(he.backendId(), parameterHash, values, shards[s]);
            shards[s] = null;
        }
        return out;
    }

    private static String headerBackend(ShardCiphertexts sc, int i) {
        try {
            return org.metisfl.crypto.HeEnvelope.of(sc.ciphertexts().get(i)).backendId();
        } catch (RuntimeException e) {
            return "";
        }
    }
}
