package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import java.util.List;
import org.metisfl.proto.v1.Encryption;

/**
 * A global model ready to send: its bytes as immutable chunks, each small enough for one gRPC
 * message, sent to every gateway as they are, without copying. A plaintext model's bytes are its
 * little-endian float32 values; an encrypted model's (secure aggregation) are its shards'
 * ciphertexts, each shard's byte length in {@code encryption}.
 *
 * @param version the model version (the round that produced it, 0 = initial)
 * @param values the number of model values (plaintext, or encoded by the ciphertexts)
 * @param bytes the number of bytes of the chunks
 * @param chunks the bytes, in order
 * @param encryption for an encrypted model, its backend, parameter hash and shard byte lengths;
 *     null for a plaintext one
 */
record EncodedModel(
        long version, long values, long bytes, List<ByteString> chunks, Encryption encryption) {

    EncodedModel {
        chunks = List.copyOf(chunks);
    }

    /** A plaintext model of {@code values} float32 values. */
    EncodedModel(long version, long values, List<ByteString> chunks) {
        this(version, values, values * Float.BYTES, chunks, null);
    }
}
