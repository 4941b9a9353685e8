package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import java.util.List;

/**
 * A global model ready to send: its little-endian float32 bytes as immutable chunks, each small
 * enough for one gRPC message. Sent to every gateway as they are, without copying.
 *
 * @param version the model version (the round that produced it, 0 = initial)
 * @param values the number of float32 values
 * @param chunks the bytes of the values, in order
 */
record EncodedModel(long version, long values, List<ByteString> chunks) {

    EncodedModel {
        chunks = List.copyOf(chunks);
    }

    long bytes() {
        return values * Float.BYTES;
    }
}
