package org.metisfl.bench.kernels;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.metisfl.flink.connector.gateway.server.ModelChunks;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.ShardDecoder;
import org.metisfl.flink.model.TensorSpecInfo;
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
 * Shard cut and model assembly, and the whole chain of copies an update and a new model go through
 * in the job. Where the job's code is private to its classes, a method repeats it line for line
 * (the source it mirrors is named on each). Bytes per op: 4 x values.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ShardingBenchmark {
    private static final int SHARD = 65_536;
    private static final int CHUNK = 1 << 20;

    @Param({"1000000", "10000000"})
    public int values;

    private float[] model;
    private List<float[]> shards;
    private List<ByteString> wireChunks;

    @Setup(Level.Trial)
    public void setUp() {
        model = new float[values];
        for (int i = 0; i < values; i++) {
            model[i] = i * 1e-7f;
        }
        shards = cut(model);
        ByteString all = ModelCodec.toBytes(model, 0, values);
        wireChunks = new ArrayList<>();
        for (int off = 0; off < all.size(); off += CHUNK) {
            wireChunks.add(all.substring(off, Math.min(all.size(), off + CHUNK)));
        }
    }

    private static List<float[]> cut(float[] values) {
        int n = TensorSpecInfo.numShards(values.length, SHARD);
        List<float[]> out = new ArrayList<>(n);
        for (int s = 0; s < n; s++) {
            int from = s * SHARD;
            out.add(Arrays.copyOfRange(values, from, Math.min(values.length, from + SHARD)));
        }
        return out;
    }

    /** UpdateReceiver.acceptUpdate: one GatewayEvent with a copied float[] per shard. */
    @Benchmark
    public List<GatewayEvent> shardCut() {
        int numShards = TensorSpecInfo.numShards(model.length, SHARD);
        List<GatewayEvent> batch = new ArrayList<>(numShards + 1);
        for (int s = 0; s < numShards; s++) {
            int from = s * SHARD;
            batch.add(
                    GatewayEvent.updateShard(
                            0,
                            "learner-0123456789abcdef",
                            1,
                            s,
                            numShards,
                            1,
                            "r1/train",
                            1,
                            Payload.dense(
                                    Arrays.copyOfRange(
                                            model, from, Math.min(model.length, from + SHARD)))));
        }
        return batch;
    }

    /** RoundCoordinator.assembleModel: shards into one float[]. */
    @Benchmark
    public float[] assemble() {
        float[] out = new float[values];
        for (int s = 0; s < shards.size(); s++) {
            float[] shard = shards.get(s);
            System.arraycopy(shard, 0, out, s * SHARD, shard.length);
        }
        return out;
    }

    /**
     * The gateway's copy of one update, before Flink: each received chunk decoded straight into the
     * shard arrays with the finiteness check (ShardDecoder, as UpdateReceiver.onNext runs it), the
     * shard arrays then wrapped as records (acceptUpdate). It calls the job's own decoder, so it
     * measures the code the gateway runs. Chunks of 1 MiB, as a learner sends them.
     */
    @Benchmark
    public List<GatewayEvent> ingestCopyChain() {
        ShardDecoder decoder = new ShardDecoder(values, SHARD);
        for (ByteString c : wireChunks) {
            for (ByteBuffer part : c.asReadOnlyByteBufferList()) {
                decoder.append(part);
            }
        }
        float[][] shardValues = decoder.shards();
        List<GatewayEvent> batch = new ArrayList<>(shardValues.length);
        for (int s = 0; s < shardValues.length; s++) {
            batch.add(
                    GatewayEvent.updateShard(
                            0,
                            "learner-0123456789abcdef",
                            1,
                            s,
                            shardValues.length,
                            1,
                            "r1/train",
                            1,
                            Payload.dense(shardValues[s])));
        }
        return batch;
    }

    /**
     * The job's copies of one new global model, besides Flink's serialization of its MODEL_SHARD
     * directives and the gRPC transfer to the gateway: one little-endian encode per shard, cut into
     * chunks by views (ModelAssembly.add, sink), and the received chunks kept as they are
     * (ModelChunks.of, GatewayState.apply), served to every learner without a copy.
     */
    @Benchmark
    public List<ByteString> publishCopyChain() {
        List<ByteString> sent = new ArrayList<>();
        for (float[] shard : shards) {
            ByteString bytes = ModelCodec.toBytes(shard);
            if (bytes.size() <= CHUNK) {
                sent.add(bytes);
            } else {
                for (int off = 0; off < bytes.size(); off += CHUNK) {
                    sent.add(bytes.substring(off, Math.min(bytes.size(), off + CHUNK)));
                }
            }
        }
        return ModelChunks.of(sent, CHUNK).chunks();
    }
}
