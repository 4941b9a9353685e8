package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.Payload;
import org.metisfl.proto.v1.Encryption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gathers the MODEL_SHARD directives the coordinator sends before a PUBLISH into an {@link
 * EncodedModel}: each shard is encoded once into little-endian float32 bytes and cut, without
 * copying, into chunks of at most the gRPC chunk size. An encrypted shard (secure aggregation) is
 * sent as its ciphertext bytes, untouched (the job cannot read it), and its byte length is noted
 * for the model's {@code Encryption}. Shards arrive in order; a shard that does not continue the
 * model being gathered starts a new one (or, if it is not a model's first shard, is dropped with
 * what was gathered).
 */
final class ModelAssembly {
    private static final Logger LOG = LoggerFactory.getLogger(ModelAssembly.class);

    private final int chunkBytes;
    private long version = -1;
    private long values;
    private long bytes;
    private List<ByteString> chunks = new ArrayList<>();
    private Encryption.Builder encryption;

    /**
     * @param chunkBytes the most bytes per chunk; a multiple of 4, so no value spans two chunks
     */
    ModelAssembly(int chunkBytes) {
        if (chunkBytes <= 0 || chunkBytes % Float.BYTES != 0) {
            throw new IllegalArgumentException("chunk size must be a positive multiple of 4");
        }
        this.chunkBytes = chunkBytes;
    }

    /** Adds the values of a MODEL_SHARD directive. */
    void add(Directive shard) {
        if (shard.modelVersion != version || shard.offset != values) {
            if (shard.offset != 0) {
                LOG.warn("Dropping {}: it does not continue model v{}", shard, version);
                reset(-1);
                return;
            }
            reset(shard.modelVersion);
        }
        Payload p = shard.values();
        boolean encrypted = !p.isDense();
        if (values > 0 && encrypted != (encryption != null)) {
            LOG.warn(
                    "Dropping {}: model v{} mixes plaintext and ciphertext shards", shard, version);
            reset(-1);
            return;
        }
        ByteString encoded;
        if (encrypted) {
            if (encryption == null) {
                encryption =
                        Encryption.newBuilder()
                                .setBackendId(p.scheme())
                                .setParameterHash(p.parameterHash());
            }
            // Never changed after it is emitted (see Payload): sent without a copy.
            encoded = UnsafeByteOperations.unsafeWrap(p.ciphertext());
            encryption.addShardBytes(encoded.size());
        } else {
            encoded = ModelCodec.toBytes(p.values());
        }
        if (encoded.size() <= chunkBytes) {
            chunks.add(encoded);
        } else {
            for (int off = 0; off < encoded.size(); off += chunkBytes) {
                chunks.add(encoded.substring(off, Math.min(encoded.size(), off + chunkBytes)));
            }
        }
        values += p.size();
        bytes += encoded.size();
    }

    /**
     * The gathered model if it is version {@code version} (not -1, no model) with {@code values}
     * values, else null; either way the assembly starts over.
     */
    EncodedModel take(long version, long values) {
        EncodedModel model =
                version >= 0 && this.version == version && this.values == values
                        ? new EncodedModel(
                                version,
                                values,
                                bytes,
                                chunks,
                                encryption == null ? null : encryption.build())
                        : null;
        reset(-1);
        return model;
    }

    private void reset(long newVersion) {
        version = newVersion;
        values = 0;
        bytes = 0;
        chunks = new ArrayList<>();
        encryption = null;
    }
}
