package org.metisfl.flink.testutil;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.ByteBuffer;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShamirKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ThresholdShards;
import org.metisfl.proto.v1.CombineDealingsTask;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.CommitteeMember;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.GetAggregateRequest;
import org.metisfl.proto.v1.GetCommitteeRequest;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.ModelChunk;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.PartialDecryptTask;
import org.metisfl.proto.v1.PartialDecryptionChunk;
import org.metisfl.proto.v1.PartialDecryptionHeader;
import org.metisfl.proto.v1.SealedDealing;
import org.metisfl.proto.v1.SubmitKeyShareResponse;
import org.metisfl.proto.v1.SubmitPartialDecryptionResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * A test learner that plays a threshold committee member through the gateway with the crypto
 * classes, as THRESHOLD-CONTRACT says a learner does: key share, dealings (t &lt; N), partial
 * decryptions, and updates encrypted under the joint key. It keeps its shares in memory; its
 * dealings are not sealed (the job never opens them; sealing is the learners' business).
 */
public final class ThresholdTestMember implements AutoCloseable {
    private final RawLearner raw;
    private final ManagedChannel channel;
    private final LearnerServiceGrpc.LearnerServiceBlockingStub stub;
    private final HeContext he;
    private final ThresholdShards ts;
    private final ThresholdHe th;
    private final int shardSize;
    private KeyShare share;
    private ShamirKeyShare shamir;
    private Committee committee;
    private CommitteeInfo info;

    public ThresholdTestMember(RawLearner raw, HeContext he, int port, int shardSize) {
        this.raw = raw;
        this.he = he;
        this.ts = ThresholdShards.of(he);
        this.th = ts.threshold();
        this.shardSize = shardSize;
        this.channel =
                NettyChannelBuilder.forAddress("127.0.0.1", port)
                        .usePlaintext()
                        .maxInboundMessageSize(64 << 20)
                        .build();
        this.stub = LearnerServiceGrpc.newBlockingStub(channel);
    }

    public RawLearner raw() {
        return raw;
    }

    private LearnerServiceGrpc.LearnerServiceBlockingStub call() {
        return stub.withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    public KeyShare share() {
        return share;
    }

    /** A fresh key share for the task (kept), and its submission; sends nothing. */
    public KeyShareSubmission makeKeyShare(KeyShareTask task) throws Exception {
        share = th.generateKeyShare(task.getCommonSeed().toByteArray());
        KeyShareSubmission.Builder s =
                KeyShareSubmission.newBuilder()
                        .setCredentials(raw.credentials())
                        .setEpoch(task.getEpoch())
                        .setPublicShare(ByteString.copyFrom(th.serialize(share.publicShare())));
        if (task.getThreshold() < task.getMembersCount()) {
            s.setTransportPublicKey(
                    ByteString.copyFrom(
                            KeyPairGenerator.getInstance("X25519")
                                    .generateKeyPair()
                                    .getPublic()
                                    .getEncoded()));
        }
        return s.build();
    }

    public SubmitKeyShareResponse submitKeyShare(KeyShareSubmission s) {
        return call().submitKeyShare(s);
    }

    public CommitteeInfo committee(boolean includeShares) {
        info =
                call().getCommittee(
                                GetCommitteeRequest.newBuilder()
                                        .setCredentials(raw.credentials())
                                        .setIncludeShares(includeShares)
                                        .build());
        return info;
    }

    /** The joint key as GetCommittee serves it. */
    public PublicKey jointKey() {
        return he.deserializePublicKey(committee(false).getJointPublicKey().toByteArray());
    }

    /** Deals (t &lt; N): builds the committee from the public shares served, uploads. */
    public void deal(int threshold) {
        CommitteeInfo c = committee(true);
        List<PublicKeyShare> shares = new ArrayList<>();
        for (CommitteeMember m : c.getMembersList()) {
            shares.add(th.deserializePublicKeyShare(m.getPublicShare().toByteArray()));
        }
        committee = th.combineKeyShares(shares);
        List<byte[]> dealt = th.dealShamirShares(share.secretShare(), committee, threshold);
        DealingsSubmission.Builder d =
                DealingsSubmission.newBuilder()
                        .setCredentials(raw.credentials())
                        .setEpoch(c.getEpoch());
        for (int j = 0; j < c.getMembersCount(); j++) {
            CommitteeMember m = c.getMembers(j);
            if (m.getLearnerId().equals(raw.id())) {
                ownDealing = dealt.get(j);
                continue;
            }
            d.addDealings(
                    SealedDealing.newBuilder()
                            .setFromLearnerId(raw.id())
                            .setToLearnerId(m.getLearnerId())
                            .setSealed(ByteString.copyFrom(dealt.get(j))));
        }
        call().submitDealings(d.build());
    }

    private byte[] ownDealing;

    /** Combines the dealings addressed to it (t &lt; N) into its Shamir share. */
    public void combine(CombineDealingsTask task) {
        List<byte[]> all = new ArrayList<>();
        all.add(ownDealing);
        for (SealedDealing s : task.getDealingsList()) {
            all.add(s.getSealed().toByteArray());
        }
        shamir = th.combineDealings(share.secretShare(), committee, task.getThreshold(), all);
    }

    /** The aggregate of the task's round, shard by shard. */
    public List<byte[]> aggregate(long round) {
        Iterator<ModelChunk> it =
                call().getAggregate(
                                GetAggregateRequest.newBuilder()
                                        .setCredentials(raw.credentials())
                                        .setRound(round)
                                        .build());
        ModelHeader h = it.next().getHeader();
        ByteBuffer b = ByteBuffer.allocate((int) h.getTotalBytes());
        while (it.hasNext()) {
            b.put(it.next().getData().asReadOnlyByteBuffer());
        }
        List<byte[]> out = new ArrayList<>();
        int off = 0;
        for (long n : h.getEncryption().getShardBytesList()) {
            out.add(Arrays.copyOfRange(b.array(), off, off + (int) n));
            off += (int) n;
        }
        return out;
    }

    /** This member's partial shards of the task's aggregate. */
    public List<byte[]> partials(PartialDecryptTask task) {
        List<byte[]> out = new ArrayList<>();
        for (byte[] shard : aggregate(task.getRound())) {
            out.add(
                    shamir == null
                            ? ts.partialDecryptShard(share.secretShare(), shard)
                            : ts.partialDecryptShard(
                                    shamir, committee, shard, task.getAnsweringList()));
        }
        return out;
    }

    /** Uploads partial shards for the task (in small chunks). */
    public SubmitPartialDecryptionResponse submitPartials(
            PartialDecryptTask task, List<byte[]> parts) throws Exception {
        PartialDecryptionHeader.Builder h =
                PartialDecryptionHeader.newBuilder()
                        .setCredentials(raw.credentials())
                        .setEpoch(task.getEpoch())
                        .setRound(task.getRound())
                        .setAttempt(task.getAttempt());
        ByteString all = ByteString.EMPTY;
        for (byte[] p : parts) {
            h.addShardBytes(p.length);
            all = all.concat(ByteString.copyFrom(p));
        }
        List<PartialDecryptionChunk> chunks = new ArrayList<>();
        chunks.add(PartialDecryptionChunk.newBuilder().setHeader(h).build());
        for (int off = 0; off < all.size(); off += 100_003) {
            chunks.add(
                    PartialDecryptionChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + 100_003)))
                            .build());
        }
        java.util.concurrent.CompletableFuture<SubmitPartialDecryptionResponse> result =
                new java.util.concurrent.CompletableFuture<>();
        io.grpc.stub.StreamObserver<PartialDecryptionChunk> up =
                LearnerServiceGrpc.newStub(channel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS)
                        .submitPartialDecryption(
                                new io.grpc.stub.StreamObserver<>() {
                                    @Override
                                    public void onNext(SubmitPartialDecryptionResponse r) {
                                        result.complete(r);
                                    }

                                    @Override
                                    public void onError(Throwable t) {
                                        result.completeExceptionally(t);
                                    }

                                    @Override
                                    public void onCompleted() {}
                                });
        for (PartialDecryptionChunk c : chunks) {
            up.onNext(c);
        }
        up.onCompleted();
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw (e.getCause() instanceof Exception x) ? x : e;
        }
    }

    /** Encrypts {@code values} under {@code key} and uploads them as the update of round. */
    public SubmitUpdateResponse submitUpdate(
            long round, List<TensorSpec> tensors, float[] values, long weight, PublicKey key) {
        List<byte[]> shards = new ArrayList<>();
        for (int from = 0; from < values.length; from += shardSize) {
            shards.add(
                    ts.encryptShard(
                            key,
                            Arrays.copyOfRange(
                                    values, from, Math.min(values.length, from + shardSize))));
        }
        Encryption.Builder e =
                Encryption.newBuilder()
                        .setBackendId(he.backendId())
                        .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                        .setPreset(CkksPresetHolder.PRESET)
                        .setShardSize(shardSize);
        for (byte[] s : shards) {
            e.addShardBytes(s.length);
        }
        ByteString all = ByteString.EMPTY;
        for (byte[] sh : shards) {
            all = all.concat(ByteString.copyFrom(sh));
        }
        org.metisfl.proto.v1.UpdateHeader header =
                org.metisfl.proto.v1.UpdateHeader.newBuilder()
                        .setCredentials(raw.credentials())
                        .setTaskId("r" + round + "/train")
                        .setRound(round)
                        .setNumTrainingExamples(weight)
                        .addAllTensors(tensors)
                        .setEncryption(e)
                        .setCrc32C(RawLearner.crc32c(all))
                        .build();
        List<org.metisfl.proto.v1.UpdateChunk> chunks = new ArrayList<>();
        chunks.add(org.metisfl.proto.v1.UpdateChunk.newBuilder().setHeader(header).build());
        for (int off = 0; off < all.size(); off += 100_003) {
            chunks.add(
                    org.metisfl.proto.v1.UpdateChunk.newBuilder()
                            .setData(all.substring(off, Math.min(all.size(), off + 100_003)))
                            .setOffset(off)
                            .build());
        }
        return raw.submitRaw(chunks);
    }

    private static final class CkksPresetHolder {
        static final String PRESET = org.metisfl.crypto.CkksParameters.THRESHOLD_PRESET;
    }

    @Override
    public void close() throws Exception {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
        raw.close();
    }
}
