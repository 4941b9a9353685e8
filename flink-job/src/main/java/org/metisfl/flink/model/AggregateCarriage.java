package org.metisfl.flink.model;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.ThresholdDirective;

/**
 * How a threshold directive's encrypted aggregate crosses the control endpoint: not inline in the
 * header (a 100K-value model's ciphertexts are ~10 MB, over any one gRPC message) but as chunks
 * after the model's chunks (if the directive carries a model too), the shards' byte lengths in
 * {@code ThresholdDirective.aggregate_bytes}. The sink {@linkplain #detach detaches} it, the
 * gateway {@linkplain #attach attaches} it back before applying the directive, on the gRPC path and
 * the in-JVM hand-over alike.
 */
public final class AggregateCarriage {
    private AggregateCarriage() {}

    /** A header without the aggregate inline, and the aggregate's bytes as chunks. */
    public record Detached(DirectiveHeader header, List<ByteString> chunks, long bytes) {}

    /** A header with the aggregate inline again, and the model's own chunks (null without). */
    public record Attached(DirectiveHeader header, List<ByteString> modelChunks) {}

    /**
     * Moves the header's inline aggregate into chunks of at most {@code chunkBytes} (views of the
     * shards, no copy), to be sent after the model's chunks; null if it has none to move.
     */
    public static Detached detach(DirectiveHeader header, int chunkBytes) {
        if (!header.hasThreshold() || header.getThreshold().getAggregateCount() == 0) {
            return null;
        }
        ThresholdDirective.Builder t = header.getThreshold().toBuilder().clearAggregate();
        List<ByteString> chunks = new ArrayList<>();
        long bytes = 0;
        for (ByteString shard : header.getThreshold().getAggregateList()) {
            t.addAggregateBytes(shard.size());
            for (int at = 0; at < shard.size(); at += chunkBytes) {
                chunks.add(shard.substring(at, Math.min(shard.size(), at + chunkBytes)));
            }
            bytes += shard.size();
        }
        return new Detached(header.toBuilder().setThreshold(t).build(), chunks, bytes);
    }

    /** The bytes of aggregate the header announces after its model's bytes (0 if none). */
    public static long announcedBytes(DirectiveHeader header) {
        long n = 0;
        if (header.hasThreshold()) {
            for (long b : header.getThreshold().getAggregateBytesList()) {
                n += b;
            }
        }
        return n;
    }

    /**
     * Splits the directive's chunks into the model's (the first {@code model_bytes}) and the
     * aggregate's, which goes back inline into the header.
     *
     * @throws IllegalArgumentException if the lengths and the chunks do not agree
     */
    public static Attached attach(DirectiveHeader header, List<ByteString> chunks) {
        List<ByteString> all = chunks == null ? List.of() : chunks;
        List<ByteString> model = new ArrayList<>();
        int i = 0;
        long modelBytes = 0;
        while (modelBytes < header.getModelBytes() && i < all.size()) {
            modelBytes += all.get(i).size();
            model.add(all.get(i++));
        }
        if (modelBytes != header.getModelBytes()) {
            throw new IllegalArgumentException(
                    "the model's "
                            + header.getModelBytes()
                            + " bytes do not end at a chunk boundary (or did not all come)");
        }
        List<ByteString> modelChunks = header.getModelBytes() > 0 ? model : null;
        if (!header.hasThreshold() || header.getThreshold().getAggregateBytesCount() == 0) {
            if (i != all.size()) {
                throw new IllegalArgumentException("more bytes than the model's");
            }
            return new Attached(header, modelChunks);
        }
        ByteString rest = ByteString.copyFrom(all.subList(i, all.size()));
        ThresholdDirective.Builder t = header.getThreshold().toBuilder().clearAggregateBytes();
        long at = 0;
        for (long n : header.getThreshold().getAggregateBytesList()) {
            if (n <= 0 || at + n > rest.size()) {
                throw new IllegalArgumentException(
                        "aggregate shards of "
                                + announcedBytes(header)
                                + " bytes announced but "
                                + rest.size()
                                + " came");
            }
            t.addAggregate(rest.substring((int) at, (int) (at + n)));
            at += n;
        }
        if (at != rest.size()) {
            throw new IllegalArgumentException(
                    "aggregate shards of " + at + " bytes announced but " + rest.size() + " came");
        }
        return new Attached(header.toBuilder().setThreshold(t).build(), modelChunks);
    }
}
