package org.metisfl.flink.testutil;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.GetModelRequest;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.simulator.RawLearner;

/**
 * A test learner of a CKKS federation over the raw wire: a {@link RawLearner} for joining, tasks
 * and uploads, and a {@link KeyBundle} to encrypt its updates shard by shard and decrypt the global
 * model, as the contract in secure-aggregation.md ("The wire") says.
 */
public final class CkksTestLearner implements AutoCloseable {
    private final RawLearner raw;
    private final KeyBundle keys;
    private final ManagedChannel channel;
    private final int shardSize;

    /** What GetModel served: its header and its bytes. */
    public record EncryptedModel(ModelHeader header, byte[] bytes) {

        /** The shards' bytes, cut as {@code ModelHeader.encryption.shard_bytes} says. */
        public List<byte[]> shards() {
            List<byte[]> out = new ArrayList<>();
            int off = 0;
            for (long n : header.getEncryption().getShardBytesList()) {
                out.add(Arrays.copyOfRange(bytes, off, off + (int) n));
                off += (int) n;
            }
            if (off != bytes.length) {
                throw new IllegalStateException(off + " of " + bytes.length + " bytes in shards");
            }
            return out;
        }
    }

    public CkksTestLearner(RawLearner raw, KeyBundle keys, int port, int shardSize) {
        this.raw = raw;
        this.keys = keys;
        this.shardSize = shardSize;
        this.channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    public RawLearner raw() {
        return raw;
    }

    /** The encrypted shards of {@code values}, each {@code KeyBundle.encryptShard}'s bytes. */
    public List<byte[]> encryptShards(float[] values) {
        List<byte[]> out = new ArrayList<>();
        for (int from = 0; from < values.length; from += shardSize) {
            out.add(
                    keys.encryptShard(
                            Arrays.copyOfRange(
                                    values, from, Math.min(values.length, from + shardSize))));
        }
        return out;
    }

    /** The federation's Encryption for an update whose shards have these bytes. */
    public Encryption encryption(List<byte[]> shards) {
        Encryption.Builder e =
                Encryption.newBuilder()
                        .setBackendId(keys.backendId())
                        .setParameterHash(keys.parameterHash())
                        .setPreset(keys.preset())
                        .setShardSize(shardSize);
        for (byte[] s : shards) {
            e.addShardBytes(s.length);
        }
        return e.build();
    }

    /** An upload of these encrypted shards with this header encryption, in odd-sized chunks. */
    public List<UpdateChunk> chunks(
            long round,
            List<TensorSpec> tensors,
            long examples,
            Encryption encryption,
            List<byte[]> shards) {
        UpdateHeader header =
                UpdateHeader.newBuilder()
                        .setCredentials(raw.credentials())
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(examples)
                        .addAllTensors(tensors)
                        .putAllMetrics(Map.of("loss", 0.5))
                        .setEncryption(encryption)
                        .build();
        ByteString all = ByteString.EMPTY;
        for (byte[] s : shards) {
            all = all.concat(ByteString.copyFrom(s));
        }
        header = header.toBuilder().setCrc32C(RawLearner.crc32c(all)).build();
        List<UpdateChunk> out = new ArrayList<>();
        out.add(UpdateChunk.newBuilder().setHeader(header).build());
        int chunk = 100_003; // cuts inside shards and inside ciphertexts
        for (int off = 0; off < all.size(); off += chunk) {
            out.add(
                    UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + chunk)))
                            .setOffset(off)
                            .build());
        }
        return out;
    }

    /** Encrypts {@code values} and uploads them as the learner's update of {@code round}. */
    public SubmitUpdateResponse submit(
            long round, List<TensorSpec> tensors, float[] values, long examples) {
        List<byte[]> shards = encryptShards(values);
        return raw.submitRaw(chunks(round, tensors, examples, encryption(shards), shards));
    }

    /** Downloads the global model as served (encrypted). */
    public EncryptedModel download() {
        Iterator<ModelChunk> it =
                LearnerServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS)
                        .getModel(
                                GetModelRequest.newBuilder()
                                        .setCredentials(raw.credentials())
                                        .build());
        ModelHeader header = it.next().getHeader();
        ByteBuffer bytes = ByteBuffer.allocate((int) header.getTotalBytes());
        while (it.hasNext()) {
            bytes.put(it.next().getData().asReadOnlyByteBuffer());
        }
        if (bytes.hasRemaining()) {
            throw new IllegalStateException("short model download");
        }
        return new EncryptedModel(header, bytes.array());
    }

    /** Decrypts a downloaded model into its values (each shard's Σw·x / Σw, float32). */
    public float[] decrypt(EncryptedModel m) {
        List<float[]> parts = new ArrayList<>();
        int total = 0;
        for (byte[] s : m.shards()) {
            float[] v = keys.decryptShard(s);
            parts.add(v);
            total += v.length;
        }
        float[] out = new float[total];
        int pos = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, pos, p.length);
            pos += p.length;
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
        raw.close();
    }
}
