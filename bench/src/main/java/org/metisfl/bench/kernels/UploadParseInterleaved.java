package org.metisfl.bench.kernels;

import io.grpc.MethodDescriptor;
import io.grpc.internal.CompositeReadableBuffer;
import io.grpc.internal.ReadableBuffers;
import io.grpc.protobuf.ProtoUtils;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.metisfl.flink.model.ShardDecoder;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.simulator.SimulatedFederation;
import org.metisfl.transport.LeasedMessage;
import org.metisfl.transport.ZeroCopyMarshaller;

/**
 * What the gateway spends on one upload chunk from gRPC's receive buffers to the update's shard
 * arrays, with gRPC's own protobuf marshaller (a scratch copy, a copy into the chunk's {@code
 * ByteString}, then the decoding) against {@link ZeroCopyMarshaller} (the decoding only, from views
 * of the buffers). The chunk arrives as gRPC hands it to a marshaller: its own buffer stream over
 * direct buffers of 16 KiB (HTTP/2 frames). The two alternate batch by batch, so both see the same
 * load on a shared machine; prints the minimum and median microseconds per 1 MiB chunk.
 *
 * <p>Usage: {@code java -cp ... org.metisfl.bench.kernels.UploadParseInterleaved [batches]}.
 */
public final class UploadParseInterleaved {
    private static final int CHUNK_BYTES = 1 << 20;
    private static final int FRAME = 16 * 1024;
    private static final int PER_BATCH = 64;

    private UploadParseInterleaved() {}

    public static void main(String[] args) {
        int batches = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        float[] values = SimulatedFederation.syntheticUpdate(42, 0, CHUNK_BYTES / Float.BYTES);
        ByteBuffer raw = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        byte[] wire =
                UpdateChunk.newBuilder()
                        .setData(com.google.protobuf.ByteString.copyFrom(raw.array()))
                        .build()
                        .toByteArray();
        List<ByteBuffer> frames = new ArrayList<>();
        for (int off = 0; off < wire.length; off += FRAME) {
            int n = Math.min(FRAME, wire.length - off);
            frames.add(ByteBuffer.allocateDirect(n).put(wire, off, n).flip());
        }
        MethodDescriptor.Marshaller<UpdateChunk> grpc =
                ProtoUtils.marshaller(UpdateChunk.getDefaultInstance());
        ZeroCopyMarshaller<UpdateChunk> zeroCopy =
                ZeroCopyMarshaller.of(
                        UpdateChunk.getDefaultInstance(), UpdateChunk.DATA_FIELD_NUMBER);
        List<Double> grpcUs = new ArrayList<>();
        List<Double> zeroUs = new ArrayList<>();
        double sink = 0;
        int viewed = 0;
        for (int b = 0; b < batches + 4; b++) {
            boolean zeroFirst = b % 2 == 0;
            for (int pass = 0; pass < 2; pass++) {
                boolean zero = (pass == 0) == zeroFirst;
                long start = System.nanoTime();
                for (int i = 0; i < PER_BATCH; i++) {
                    ShardDecoder decoder = new ShardDecoder(CHUNK_BYTES / Float.BYTES, 65_536);
                    InputStream in = stream(frames);
                    if (zero) {
                        try (LeasedMessage<UpdateChunk> m = zeroCopy.parse(in)) {
                            viewed += m.viewsTransportBuffers() ? 1 : 0;
                            for (ByteBuffer part : m.bytes()) {
                                decoder.append(part);
                            }
                        }
                    } else {
                        UpdateChunk c = grpc.parse(in);
                        for (ByteBuffer part : c.getData().asReadOnlyByteBufferList()) {
                            decoder.append(part);
                        }
                    }
                    sink += decoder.shards()[0][1];
                }
                double us = (System.nanoTime() - start) / 1e3 / PER_BATCH;
                if (b >= 4) { // four batches warm the JIT
                    (zero ? zeroUs : grpcUs).add(us);
                }
            }
        }
        System.out.printf(
                Locale.ROOT,
                "1 MiB upload chunk, receive buffers -> shard arrays (us per chunk, %d batches of %d,"
                        + " interleaved; %d zero-copy parses viewed the buffers; checksum %.1f)%n",
                batches,
                PER_BATCH,
                viewed,
                sink);
        print("gRPC's protobuf marshaller + decode", grpcUs);
        print("ZeroCopyMarshaller + decode", zeroUs);
    }

    /** The chunk as gRPC's deframer hands it over: a buffer stream over frame-sized buffers. */
    private static InputStream stream(List<ByteBuffer> frames) {
        CompositeReadableBuffer composite = new CompositeReadableBuffer();
        for (ByteBuffer f : frames) {
            composite.addBuffer(ReadableBuffers.wrap(f.duplicate()));
        }
        return ReadableBuffers.openStream(composite, true);
    }

    private static void print(String what, List<Double> us) {
        Collections.sort(us);
        System.out.printf(
                Locale.ROOT,
                "  %-40s min %8.1f  median %8.1f  (%.2f GB/s at the median)%n",
                what,
                us.get(0),
                us.get(us.size() / 2),
                CHUNK_BYTES / (us.get(us.size() / 2) * 1e3));
    }
}
