package org.metisfl.flink.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.Model;
import org.metisfl.proto.v1.Tensor;
import org.metisfl.proto.v1.TensorSpec;

/** Conversions between the wire format (raw little-endian float32) and the job's float arrays. */
public final class ModelCodec {

    private ModelCodec() {}

    /** Values of little-endian float32 bytes. */
    public static float[] toFloats(ByteBuffer littleEndianBytes) {
        ByteBuffer b = littleEndianBytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / Float.BYTES];
        b.asFloatBuffer().get(out);
        return out;
    }

    /** Little-endian float32 bytes of {@code values[from, from + count)}. */
    public static ByteString toBytes(float[] values, int from, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values, from, count);
        // The array is ours alone and never written again: wrap it instead of copying it.
        return UnsafeByteOperations.unsafeWrap(b.array());
    }

    /** Little-endian float32 bytes of all {@code values}, encoded once and wrapped (no copy). */
    public static ByteString toBytes(float[] values) {
        return toBytes(values, 0, values.length);
    }

    /**
     * The most model bytes one gRPC message of at most {@code maxMessageBytes} carries: 1 MiB, or
     * less to leave room for the rest of the message; a whole number of float32 values.
     */
    public static int chunkBytes(int maxMessageBytes) {
        int room = Math.max(4 * 1024, maxMessageBytes - 64 * 1024);
        return Math.min(1 << 20, room) & ~(Float.BYTES - 1);
    }

    public static TensorSpecInfo fromProto(TensorSpec spec) {
        long[] shape = new long[spec.getShapeCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = spec.getShape(i);
        }
        return new TensorSpecInfo(spec.getName(), shape);
    }

    public static TensorSpec toProto(TensorSpecInfo spec) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(spec.name).setDtype(DType.FLOAT32);
        for (long d : spec.shape) {
            b.addShape(d);
        }
        return b.build();
    }

    public static List<TensorSpec> toProto(List<TensorSpecInfo> specs) {
        List<TensorSpec> out = new ArrayList<>(specs.size());
        for (TensorSpecInfo s : specs) {
            out.add(toProto(s));
        }
        return out;
    }

    /**
     * Checks that a learner's tensor specs are well formed: names unique and non-empty, float32,
     * non-negative dimensions. Returns null if they are, else the reason.
     */
    public static String checkSpecs(List<TensorSpec> specs) {
        if (specs.isEmpty()) {
            return "the update names no tensors";
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (TensorSpec s : specs) {
            if (s.getName().isEmpty()) {
                return "a tensor has an empty name";
            }
            if (!names.add(s.getName())) {
                return "tensor name '" + s.getName() + "' appears twice";
            }
            if (s.getDtype() != DType.FLOAT32) {
                return "tensor '"
                        + s.getName()
                        + "' has dtype "
                        + s.getDtype()
                        + "; only FLOAT32 is supported";
            }
            for (long d : s.getShapeList()) {
                if (d < 0) {
                    return "tensor '"
                            + s.getName()
                            + "' has a negative dimension "
                            + s.getShapeList();
                }
            }
        }
        return null;
    }

    /** A model file (a serialized {@code metisfl.v1.Model}) as specs plus flat values. */
    public record LoadedModel(List<TensorSpecInfo> tensors, float[] values) {}

    public static LoadedModel readModelFile(Path file) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 8) {
            throw new IOException(
                    "model file "
                            + file
                            + " has "
                            + size
                            + " bytes; a model file holds at most 2^31 - 9 bytes (one protobuf"
                            + " message), and a federation's model at most 2047 MiB of values");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return readModel(in, file.toString());
        }
    }

    /** Reads a model file's bytes from {@code in}; {@code file} names it in errors. */
    public static LoadedModel readModel(InputStream in, String file) throws IOException {
        Model model = Model.parseFrom(in);
        List<TensorSpec> specs = new ArrayList<>();
        for (Tensor t : model.getTensorsList()) {
            specs.add(t.getSpec());
        }
        String problem = checkSpecs(specs);
        if (problem != null) {
            throw new IOException("model file " + file + ": " + problem);
        }
        List<TensorSpecInfo> infos = new ArrayList<>();
        long total = 0;
        for (TensorSpec s : specs) {
            TensorSpecInfo info = fromProto(s);
            infos.add(info);
            total += info.size();
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IOException("model file " + file + " holds more than 2^31 values");
        }
        float[] values = new float[(int) total];
        int offset = 0;
        for (int i = 0; i < specs.size(); i++) {
            Tensor t = model.getTensors(i);
            long n = infos.get(i).size();
            if (t.getData().size() != n * Float.BYTES) {
                throw new IOException(
                        "model file "
                                + file
                                + ": tensor '"
                                + infos.get(i).name
                                + "' has "
                                + t.getData().size()
                                + " bytes, its shape "
                                + Arrays.toString(infos.get(i).shape)
                                + " needs "
                                + n * Float.BYTES);
            }
            float[] v = toFloats(t.getData().asReadOnlyByteBuffer());
            System.arraycopy(v, 0, values, offset, v.length);
            offset += v.length;
        }
        return new LoadedModel(infos, values);
    }

    /** Writes a model file readable by {@link #readModelFile}. */
    public static void writeModelFile(Path file, List<TensorSpecInfo> tensors, float[] values)
            throws IOException {
        Files.write(file, modelFileBytes(tensors, values));
    }

    /** The bytes of a model file (a serialized {@code metisfl.v1.Model}). */
    public static byte[] modelFileBytes(List<TensorSpecInfo> tensors, float[] values) {
        Model.Builder b = Model.newBuilder();
        int offset = 0;
        for (TensorSpecInfo t : tensors) {
            int n = (int) t.size();
            b.addTensors(
                    Tensor.newBuilder().setSpec(toProto(t)).setData(toBytes(values, offset, n)));
            offset += n;
        }
        return b.build().toByteArray();
    }
}
