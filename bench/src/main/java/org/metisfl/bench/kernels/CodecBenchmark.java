package org.metisfl.bench.kernels;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.learner.internal.TensorCodec;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.TensorSpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Tensor encode/decode on both sides of the wire: the job's {@link ModelCodec} and the learner's
 * {@link TensorCodec}. Bytes per op: 4 x values.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBenchmark {

    @Param({"1048576"})
    public int values;

    private float[] floats;
    private ByteBuffer bytes;
    private List<NamedTensor> tensors;
    private TensorCodec.EncodedModel encoded;
    private List<TensorSpec> specs;
    private ByteString data;

    @Setup(Level.Trial)
    public void setUp() {
        floats = new float[values];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < values; i++) {
            floats[i] = (float) r.nextDouble();
        }
        bytes = ModelCodec.toBytes(floats, 0, values).asReadOnlyByteBuffer();
        tensors = List.of(new NamedTensor("w", new long[] {values}, floats));
        encoded = TensorCodec.encode(tensors);
        specs = encoded.specs();
        data = encoded.data();
    }

    /** Gateway: wire bytes of an update to float[] (UpdateReceiver). */
    @Benchmark
    public float[] jobDecode() {
        return ModelCodec.toFloats(bytes);
    }

    /** Job: float[] to little-endian bytes (model files; the sink's toBytes is the same). */
    @Benchmark
    public ByteString jobEncode() {
        return ModelCodec.toBytes(floats, 0, values);
    }

    /** Learner: named tensors to wire bytes before an upload. */
    @Benchmark
    public TensorCodec.EncodedModel learnerEncode() {
        return TensorCodec.encode(tensors);
    }

    /** Learner: wire bytes of a downloaded model to named tensors. */
    @Benchmark
    public List<NamedTensor> learnerDecode() {
        return TensorCodec.decode(specs, data);
    }
}
