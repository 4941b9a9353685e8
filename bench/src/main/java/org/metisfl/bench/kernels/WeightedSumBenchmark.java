package org.metisfl.bench.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.metisfl.flink.aggregation.kernel.WeightedSum;
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
 * The FedAvg kernel ({@link WeightedSum}) on one shard-sized and one model-sized update, next to a
 * fused loop that reads the wire bytes directly (what the gateway could do instead of decoding to a
 * float[] first). Bytes per op: 4 x values.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WeightedSumBenchmark {

    @Param({"65536", "1048576"})
    public int values;

    private double[] acc;
    private float[] update;
    private FloatBuffer wire;

    @Setup(Level.Trial)
    public void setUp() {
        acc = new double[values];
        update = new float[values];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < values; i++) {
            update[i] = (float) (r.nextDouble() * 2 - 1);
        }
        ByteBuffer b = ByteBuffer.allocate(values * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(update);
        wire = b.asFloatBuffer();
    }

    @Benchmark
    public double[] addScaled() {
        WeightedSum.addScaled(acc, update, 0.5);
        return acc;
    }

    @Benchmark
    public float[] mean() {
        return WeightedSum.mean(acc, 3.0);
    }

    /** acc[i] += w * float(le bytes) without an intermediate float[]. */
    @Benchmark
    public double[] fusedFromWireBytes() {
        double[] a = acc;
        FloatBuffer f = wire;
        for (int i = 0; i < a.length; i++) {
            a[i] += 0.5 * f.get(i);
        }
        return a;
    }
}
