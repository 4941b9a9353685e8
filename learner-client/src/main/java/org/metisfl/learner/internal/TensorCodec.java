package org.metisfl.learner.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.TensorSpec;

/**
 * Converts named float32 tensors to the wire form (tensor specs plus one little-endian byte string,
 * cut into chunks) and back, with bulk buffer copies so large models cost no boxing.
 */
public final class TensorCodec {

    /** Models are held in one byte array, so they are limited to what Java can index. */
    static final long MAX_MODEL_BYTES = Integer.MAX_VALUE - 8;

    private TensorCodec() {}

    /**
     * The wire form of a model.
     *
     * @param specs tensor specs, in order
     * @param data the concatenated little-endian values of all tensors, in spec order
     */
    public record EncodedModel(List<TensorSpec> specs, ByteString data) {
        public EncodedModel {
            specs = List.copyOf(specs);
        }

        /** Chunks of at most {@code maxChunkBytes} bytes; views of {@link #data}, not copies. */
        public List<ByteString> chunks(int maxChunkBytes) {
            return TensorCodec.chunks(data, maxChunkBytes);
        }
    }

    /** Encodes tensors as specs plus their concatenated little-endian float32 bytes. */
    public static EncodedModel encode(List<NamedTensor> tensors) {
        List<TensorSpec> specs = specs(tensors);
        long total = totalBytes(specs);
        byte[] bytes = new byte[(int) total];
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int offset = 0;
        for (NamedTensor t : tensors) {
            buffer.position(offset);
            buffer.asFloatBuffer().put(t.values());
            offset += t.size() * Float.BYTES;
        }
        // The array is never written again, so sharing it with the ByteString is safe.
        return new EncodedModel(specs, UnsafeByteOperations.unsafeWrap(bytes));
    }

    /**
     * The tensor specs of a model, validated: unique names, at most 2 GiB of values.
     *
     * @throws IllegalArgumentException naming the offending tensor
     */
    public static List<TensorSpec> specs(List<NamedTensor> tensors) {
        List<TensorSpec> specs = new ArrayList<>(tensors.size());
        Set<String> names = new HashSet<>();
        long total = 0;
        for (NamedTensor t : tensors) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException(
                        "model has two tensors named '"
                                + t.name()
                                + "'; tensor names must be unique");
            }
            TensorSpec.Builder spec =
                    TensorSpec.newBuilder().setName(t.name()).setDtype(DType.FLOAT32);
            for (long d : t.shape()) {
                spec.addShape(d);
            }
            specs.add(spec.build());
            total += (long) t.size() * Float.BYTES;
        }
        checkModelSize(total);
        return specs;
    }

    /** Decodes specs plus concatenated little-endian bytes into named tensors. */
    public static List<NamedTensor> decode(List<TensorSpec> specs, ByteString data) {
        long expected = totalBytes(specs);
        if (data.size() != expected) {
            throw new IllegalArgumentException(
                    "model data has "
                            + data.size()
                            + " bytes but its tensor specs describe "
                            + expected
                            + " bytes ("
                            + specs.size()
                            + " float32 tensors)");
        }
        ByteBuffer buffer = data.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<NamedTensor> tensors = new ArrayList<>(specs.size());
        for (TensorSpec spec : specs) {
            int count = (int) (byteSize(spec) / Float.BYTES);
            float[] values = new float[count];
            buffer.asFloatBuffer().get(values);
            buffer.position(buffer.position() + count * Float.BYTES);
            long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
            tensors.add(new NamedTensor(spec.getName(), shape, values));
        }
        return tensors;
    }

    /**
     * The number of value bytes one spec describes.
     *
     * @throws IllegalArgumentException if the dtype is not FLOAT32 or the shape is invalid
     */
    public static long byteSize(TensorSpec spec) {
        if (spec.getDtype() != DType.FLOAT32) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + spec.getName()
                            + "' has dtype "
                            + spec.getDtype()
                            + "; this learner supports FLOAT32 only");
        }
        long count = 1;
        for (long d : spec.getShapeList()) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + spec.getName()
                                + "' has a negative dimension in shape "
                                + spec.getShapeList());
            }
            if (d != 0 && count > MAX_MODEL_BYTES / Float.BYTES / d) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + spec.getName()
                                + "' with shape "
                                + spec.getShapeList()
                                + " is larger than the supported 2 GiB");
            }
            count *= d;
        }
        return count * Float.BYTES;
    }

    /** The number of value bytes all specs describe, validating each spec. */
    public static long totalBytes(List<TensorSpec> specs) {
        long total = 0;
        Set<String> names = new HashSet<>();
        for (TensorSpec spec : specs) {
            if (!names.add(spec.getName())) {
                throw new IllegalArgumentException(
                        "model has two tensors named '" + spec.getName() + "'");
            }
            total += byteSize(spec);
            checkModelSize(total);
        }
        return total;
    }

    /** Views of consecutive pieces of {@code data}, each at most {@code maxChunkBytes} long. */
    public static List<ByteString> chunks(ByteString data, int maxChunkBytes) {
        if (maxChunkBytes <= 0) {
            throw new IllegalArgumentException(
                    "maxChunkBytes must be positive but is " + maxChunkBytes);
        }
        List<ByteString> chunks = new ArrayList<>(data.size() / maxChunkBytes + 1);
        for (int offset = 0; offset < data.size(); offset += maxChunkBytes) {
            chunks.add(data.substring(offset, Math.min(data.size(), offset + maxChunkBytes)));
        }
        return chunks;
    }

    /** Starts reassembling a model whose header announced these specs and this many bytes. */
    public static Assembler assembler(List<TensorSpec> specs, long totalBytes) {
        return new Assembler(specs, totalBytes);
    }

    /** Collects the data chunks of one downloaded model, then decodes it. */
    public static final class Assembler {
        private final List<TensorSpec> specs;
        private final byte[] bytes;
        private int received;

        private Assembler(List<TensorSpec> specs, long totalBytes) {
            long expected = totalBytes(specs);
            if (totalBytes != expected) {
                throw new IllegalArgumentException(
                        "model header announces "
                                + totalBytes
                                + " bytes but its tensor specs describe "
                                + expected
                                + " bytes");
            }
            this.specs = List.copyOf(specs);
            this.bytes = new byte[(int) expected];
        }

        /** Appends the next chunk of value bytes. */
        public void append(ByteString chunk) {
            if (chunk.size() > bytes.length - received) {
                throw new IllegalArgumentException(
                        "model data overflows: "
                                + (received + (long) chunk.size())
                                + " bytes received but the header announced "
                                + bytes.length);
            }
            chunk.copyTo(bytes, received);
            received += chunk.size();
        }

        /** Decodes the complete model; fails if bytes are missing. */
        public List<NamedTensor> finish() {
            if (received != bytes.length) {
                throw new IllegalArgumentException(
                        "model data is incomplete: "
                                + received
                                + " of "
                                + bytes.length
                                + " announced bytes received");
            }
            return decode(specs, UnsafeByteOperations.unsafeWrap(bytes));
        }
    }

    private static void checkModelSize(long total) {
        if (total > MAX_MODEL_BYTES) {
            throw new IllegalArgumentException(
                    "model has "
                            + total
                            + " bytes of values; this learner supports models up to 2 GiB");
        }
    }
}
