package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ThresholdShards;
import org.metisfl.learner.FakeGateway.ReceivedUpdate;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.proto.v1.CombineDealingsTask;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.DealTask;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.PartialDecryptTask;
import org.metisfl.proto.v1.SealedDealing;
import org.metisfl.proto.v1.Shutdown;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.ThresholdInfo;
import org.metisfl.transport.TransportSecurity;

/**
 * Learners in a threshold-mode federation against a gateway that plays the coordinator with the
 * crypto module's own API: they key a committee from their share directories, encrypt their updates
 * under the joint key, and their partial decryptions of the aggregate (made by the test without any
 * key) combine into the weighted mean of what they trained, all three (n-out-of-n) or two of three
 * after a Shamir dealing (t-out-of-n); a member restarted from its share directory uploads the same
 * share; what cannot work is refused at join with the reason.
 */
class ThresholdLearnerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(90);
    private static final String BACKEND = "metisfl-ckks";
    private static final String PRESET = "n13-q180-t";

    /** Two ciphertexts of 8,192 values per shard. */
    private static final int SHARD_SIZE = 16_384;

    /** 20,000 values: two shards, the second one short. */
    private static final int VALUES = 20_000;

    private static HeContext he;
    private static ThresholdHe th;
    private static ThresholdShards ts;

    @TempDir Path dir;

    private FakeGateway gateway;
    private final List<Learner> learners = new ArrayList<>();
    private final List<CompletableFuture<LearnerSummary>> runs = new ArrayList<>();

    @BeforeAll
    static void crypto() {
        he = HeBackends.context(BACKEND, PRESET);
        ts = ThresholdShards.of(he);
        th = ts.threshold();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Learner l : learners) {
            l.close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void aCommitteeOfThreeKeysEncryptsUnderTheJointKeyAndDecryptsTheWeightedMean()
            throws Exception {
        gateway = FakeGateway.start(1);
        gateway.encryption = federation(3, 3);
        gateway.model = List.of(new NamedTensor("w", new long[] {VALUES}, base()));
        List<Shifting> adapters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Shifting a = new Shifting(i);
            adapters.add(a);
            start(a, options().thresholdShareDir(dir.resolve("shares-" + i)).build());
        }
        await(() -> gateway.streamCalls.get() >= 3, "three task streams");
        assertThat(gateway.joins).allMatch(j -> j.getCommitteeEligible());

        byte[] seed = th.newCommonSeed();
        gateway.enqueue(keyShareTask(1, seed, 3));
        await(() -> gateway.keyShares.size() >= 3, "three key shares");
        Committee committee = publish(1, 3);
        // the secret halves stay on the learners' disks, owner-only
        for (int i = 0; i < 3; i++) {
            Path share = dir.resolve("shares-" + i).resolve("threshold-epoch-1.share");
            assertThat(Files.getPosixFilePermissions(share))
                    .containsExactlyInAnyOrder(
                            java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                            java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        }

        String keyId = HexFormat.of().formatHex(committee.jointKey().keyId());
        gateway.enqueue(train("r1/train", 1, 0, keyId));
        await(() -> gateway.updates.size() >= 3, "three encrypted updates");
        for (ReceivedUpdate u : gateway.updates) {
            Encryption e = u.header().getEncryption();
            assertThat(e.getKeyId()).isEqualTo(keyId);
            assertThat(e.getPreset()).isEqualTo(PRESET);
            assertThat(e.getShardBytesCount()).isEqualTo(2);
        }
        double[] expected = serveAggregate(1, adapters);

        // member 2 restarts from its share directory: the key-share task comes again and it
        // uploads the very same public share
        learners.get(2).close();
        String gone = gateway.leaves.get(0).getCredentials().getLearnerId();
        start(adapters.get(2), options().thresholdShareDir(dir.resolve("shares-2")).build());
        await(() -> gateway.streamCalls.get() >= 4, "the restarted member's stream");
        gateway.enqueueFor("learner-4", keyShareTask(1, seed, 3));
        await(() -> gateway.keyShares.size() >= 4, "the restarted member's key share");
        assertThat(gateway.keyShares.get(3).getPublicShare())
                .isEqualTo(
                        gateway.keyShares.stream()
                                .filter(k -> k.getCredentials().getLearnerId().equals(gone))
                                .findFirst()
                                .orElseThrow()
                                .getPublicShare());

        List<String> live = new ArrayList<>(List.of("learner-1", "learner-2", "learner-3"));
        live.remove(gone);
        live.add("learner-4");
        for (String learner : live) {
            gateway.enqueueFor(learner, decryptTask(1, 1, committee.memberIds()));
        }
        await(() -> gateway.partials.size() >= 3, "three members' partial decryptions");
        float[] mean = combine(committee, 3, gateway.partials.stream().toList());
        assertCloseToExpected(mean, expected);

        gateway.enqueue(shutdown());
        for (int i : new int[] {0, 1, 3}) {
            // the closed learner (index 2) ended with the user's close
            assertThat(runs.get(i).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).federationFinished())
                    .isTrue();
        }
    }

    @Test
    void twoOfThreeMembersDecryptAfterSealedShamirDealingsWhileTheThirdIsGone() throws Exception {
        gateway = FakeGateway.start(1);
        gateway.encryption = federation(3, 2);
        gateway.model = List.of(new NamedTensor("w", new long[] {VALUES}, base()));
        List<Shifting> adapters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Shifting a = new Shifting(i);
            adapters.add(a);
            start(a, options().thresholdShareDir(dir.resolve("shares-" + i)).build());
        }
        await(() -> gateway.streamCalls.get() >= 3, "three task streams");
        gateway.enqueue(keyShareTask(2, th.newCommonSeed(), 2));
        await(() -> gateway.keyShares.size() >= 3, "three key shares");
        assertThat(gateway.keyShares).allMatch(k -> !k.getTransportPublicKey().isEmpty());
        Committee committee = publish(2, 2);

        gateway.enqueue(
                Task.newBuilder()
                        .setTaskId("k2/deal")
                        .setDeal(DealTask.newBuilder().setEpoch(2).setThreshold(2))
                        .build());
        await(() -> gateway.dealings.size() >= 3, "three members' dealings");
        for (DealingsSubmission d : gateway.dealings) {
            String from = d.getCredentials().getLearnerId();
            assertThat(d.getDealingsList())
                    .extracting(SealedDealing::getToLearnerId)
                    .containsExactlyInAnyOrderElementsOf(
                            List.of("learner-1", "learner-2", "learner-3").stream()
                                    .filter(l -> !l.equals(from))
                                    .toList());
        }
        for (String to : List.of("learner-1", "learner-2", "learner-3")) {
            CombineDealingsTask.Builder c =
                    CombineDealingsTask.newBuilder().setEpoch(2).setThreshold(2);
            for (DealingsSubmission d : gateway.dealings) {
                for (SealedDealing s : d.getDealingsList()) {
                    if (s.getToLearnerId().equals(to)) {
                        c.addDealings(s);
                    }
                }
            }
            gateway.enqueueFor(
                    to, Task.newBuilder().setTaskId("k2/combine").setCombineDealings(c).build());
        }
        for (int i = 0; i < 3; i++) {
            Path shamir = dir.resolve("shares-" + i).resolve("threshold-epoch-2.shamir");
            await(() -> Files.exists(shamir), "member " + i + "'s Shamir share");
        }

        String keyId = HexFormat.of().formatHex(committee.jointKey().keyId());
        gateway.enqueue(train("r1/train", 1, 0, keyId));
        await(() -> gateway.updates.size() >= 3, "three encrypted updates");
        double[] expected = serveAggregate(1, adapters);

        // one member is gone; the other two answer for the set of their share ids
        learners.get(1).close();
        String gone = gateway.leaves.get(0).getCredentials().getLearnerId();
        List<String> live = new ArrayList<>(List.of("learner-1", "learner-2", "learner-3"));
        live.remove(gone);
        List<String> answering = live.stream().map(this::shareIdOf).sorted().toList();
        for (String learner : live) {
            gateway.enqueueFor(learner, decryptTask(2, 1, answering));
        }
        await(() -> gateway.partials.size() >= 2, "two members' partial decryptions");
        float[] mean = combine(committee, 2, gateway.partials.stream().toList());
        assertCloseToExpected(mean, expected);
    }

    @Test
    void refusesAtJoinWhatCannotWorkWithTheReason() throws Exception {
        gateway = FakeGateway.start(1);
        gateway.encryption = federation(3, 3);
        assertThatThrownBy(
                        () ->
                                runToEnd(
                                        FakeAdapter.small(),
                                        options()
                                                .keyBundle(KeyBundle.generate(BACKEND, PRESET))
                                                .build()))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("aggregates in threshold mode")
                .hasMessageContaining("was given a shared CKKS key bundle")
                .hasMessageContaining("join without the key bundle");

        gateway.encryption = gateway.encryption.toBuilder().setParameterHash("00ff").build();
        assertThatThrownBy(() -> runToEnd(FakeAdapter.small(), options().build()))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("with parameter hash 00ff")
                .hasMessageContaining("different versions");

        // a shared-key federation, and a plaintext one, for a learner set up for threshold mode
        KeyBundle shared = KeyBundle.generate(BACKEND, "n13-q120");
        gateway.encryption =
                Encryption.newBuilder()
                        .setBackendId(BACKEND)
                        .setParameterHash(shared.parameterHash())
                        .setPreset("n13-q120")
                        .setShardSize(SHARD_SIZE)
                        .build();
        LearnerOptions withShares = options().thresholdShareDir(dir.resolve("shares")).build();
        assertThatThrownBy(() -> runToEnd(FakeAdapter.small(), withShares))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("was given a threshold share directory")
                .hasMessageContaining("aggregates with a shared CKKS key")
                .hasMessageContaining("ckks-secret.key");
        gateway.encryption = null;
        assertThatThrownBy(() -> runToEnd(FakeAdapter.small(), withShares))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("was given a threshold share directory")
                .hasMessageContaining("aggregates plaintext updates");
        assertThat(gateway.leaves).hasSize(4);

        assertThatThrownBy(
                        () ->
                                options()
                                        .keyBundle(shared)
                                        .thresholdShareDir(dir.resolve("shares"))
                                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keyBundle and thresholdShareDir are both set");
        assertThatThrownBy(() -> options().committeeEligible(true).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("committeeEligible is true but thresholdShareDir is not set");
    }

    @Test
    void stopsWithTheReasonWhenDrawnWithoutAShareDirectoryOrWithAShareOfAnotherCommittee()
            throws Exception {
        gateway = FakeGateway.start(1);
        gateway.encryption = federation(1, 1);
        gateway.enqueue(keyShareTask(1, th.newCommonSeed(), 1));
        assertThatThrownBy(() -> runToEnd(FakeAdapter.small(), options().build()))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("drew learner 'alice' for its decryption committee")
                .hasMessageContaining("has no share directory");
        assertThat(gateway.joins.get(0).getCommitteeEligible()).isFalse();

        // the directory holds epoch 1 of another committee (another seed)
        LearnerOptions withShares = options().thresholdShareDir(dir.resolve("shares")).build();
        new org.metisfl.learner.internal.ThresholdMember(dir.resolve("shares"), he, PRESET)
                .keyShare(1, th.newCommonSeed());
        assertThatThrownBy(() -> runToEnd(FakeAdapter.small(), withShares))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("threshold-epoch-1.share")
                .hasMessageContaining("belongs to another committee");
        assertThat(gateway.keyShares).isEmpty();
    }

    // -------------------------------------------------------------------------------------

    /** A model whose training adds {@code 0.25·(index + 1)} and counts 100·(index + 1) examples. */
    private static final class Shifting implements ModelAdapter {
        private final int index;
        private float[] weights = new float[VALUES];
        final List<float[]> uploaded = new java.util.concurrent.CopyOnWriteArrayList<>();

        Shifting(int index) {
            this.index = index;
        }

        @Override
        public synchronized List<NamedTensor> getWeights() {
            return List.of(new NamedTensor("w", new long[] {VALUES}, weights.clone()));
        }

        @Override
        public synchronized void setWeights(List<NamedTensor> w) {
            weights = w.get(0).values().clone();
        }

        @Override
        public synchronized TrainResult train(TrainTask task) {
            for (int i = 0; i < weights.length; i++) {
                weights[i] += 0.25f * (index + 1);
            }
            uploaded.add(weights.clone());
            return new TrainResult(numTrainingExamples(), 1, Map.of());
        }

        @Override
        public EvaluationResult evaluate(EvaluateTask task) {
            return new EvaluationResult(1, Map.of());
        }

        @Override
        public long numTrainingExamples() {
            return 100L * (index + 1);
        }

        @Override
        public long numTestExamples() {
            return 1;
        }
    }

    private static float[] base() {
        float[] v = new float[VALUES];
        for (int i = 0; i < VALUES; i++) {
            v[i] = (float) Math.sin(0.001 * i);
        }
        return v;
    }

    private static Encryption federation(int size, int t) {
        return Encryption.newBuilder()
                .setBackendId(BACKEND)
                .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                .setPreset(PRESET)
                .setShardSize(SHARD_SIZE)
                .setThreshold(ThresholdInfo.newBuilder().setCommitteeSize(size).setThreshold(t))
                .build();
    }

    /** The coordinator's part: the committee from the uploaded shares, served by GetCommittee. */
    private Committee publish(long epoch, int t) {
        List<PublicKeyShare> shares = new ArrayList<>();
        CommitteeInfo.Builder info = CommitteeInfo.newBuilder();
        for (KeyShareSubmission k : gateway.keyShares) {
            PublicKeyShare s = th.deserializePublicKeyShare(k.getPublicShare().toByteArray());
            shares.add(s);
            info.addMembers(
                    org.metisfl.proto.v1.CommitteeMember.newBuilder()
                            .setLearnerId(k.getCredentials().getLearnerId())
                            .setShareId(ThresholdShards.memberId(s))
                            .setPublicShare(k.getPublicShare())
                            .setTransportPublicKey(k.getTransportPublicKey()));
        }
        Committee committee = th.combineKeyShares(shares);
        gateway.committee =
                info.setEpoch(epoch)
                        .setKeyId(HexFormat.of().formatHex(committee.jointKey().keyId()))
                        .setJointPublicKey(ByteString.copyFrom(he.serialize(committee.jointKey())))
                        .setThreshold(t)
                        .setBackendId(BACKEND)
                        .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                        .setPreset(PRESET)
                        .build();
        return committee;
    }

    private String shareIdOf(String learnerId) {
        return gateway.committee.getMembersList().stream()
                .filter(m -> m.getLearnerId().equals(learnerId))
                .findFirst()
                .orElseThrow()
                .getShareId();
    }

    /**
     * The job's part: Σ w·Enc(x) per ciphertext with w = each update's example count, served as the
     * round's aggregate; returns the plaintext weighted mean of what the adapters trained, computed
     * here in double.
     */
    private double[] serveAggregate(long round, List<Shifting> adapters) {
        List<ReceivedUpdate> updates = gateway.updates.stream().limit(3).toList();
        Encryption.Builder enc = gateway.encryption.toBuilder().clearThreshold();
        ByteString data = ByteString.EMPTY;
        int at = 0;
        double weightSum =
                updates.stream().mapToDouble(u -> u.header().getNumTrainingExamples()).sum();
        for (int s = 0; s < 2; s++) {
            List<ShardCiphertexts> shards = new ArrayList<>();
            int length = 0;
            for (ReceivedUpdate u : updates) {
                int offset = 0;
                for (int k = 0; k < s; k++) {
                    offset += (int) u.header().getEncryption().getShardBytes(k);
                }
                int n = (int) u.header().getEncryption().getShardBytes(s);
                shards.add(
                        ShardCiphertexts.decode(
                                u.data().substring(offset, offset + n).toByteArray()));
            }
            List<byte[]> sums = new ArrayList<>();
            for (int c = 0; c < shards.get(0).count(); c++) {
                CiphertextSum sum = he.newSum();
                for (int u = 0; u < updates.size(); u++) {
                    sum.add(
                            he.deserializeCiphertext(shards.get(u).ciphertexts().get(c)),
                            updates.get(u).header().getNumTrainingExamples());
                }
                sums.add(he.serialize(sum.result()));
            }
            byte[] shard = new ShardCiphertexts(weightSum, sums).encode();
            enc.addShardBytes(shard.length);
            data = data.concat(ByteString.copyFrom(shard));
            at += length;
        }
        gateway.aggregateData = data;
        gateway.aggregateHeader =
                ModelHeader.newBuilder()
                        .setModelVersion(round)
                        .addAllTensors(gateway.updates.get(0).header().getTensorsList())
                        .setTotalBytes(data.size())
                        .setEncryption(
                                enc.setKeyId(gateway.committee.getKeyId()).setShardSize(SHARD_SIZE))
                        .build();
        double[] expected = new double[VALUES];
        double w = 0;
        for (Shifting a : adapters) {
            float[] x = a.uploaded.get(0);
            for (int i = 0; i < VALUES; i++) {
                expected[i] += a.numTrainingExamples() * (double) x[i];
            }
            w += a.numTrainingExamples();
        }
        for (int i = 0; i < VALUES; i++) {
            expected[i] /= w;
        }
        return expected;
    }

    /** The combiner's part: each shard's weighted mean from the members' partial shards. */
    private float[] combine(Committee committee, int t, List<FakeGateway.ReceivedPartial> parts) {
        float[] out = new float[VALUES];
        int pos = 0;
        int aggregateAt = 0;
        for (int s = 0; s < 2; s++) {
            int n = (int) gateway.aggregateHeader.getEncryption().getShardBytes(s);
            byte[] shard =
                    gateway.aggregateData.substring(aggregateAt, aggregateAt + n).toByteArray();
            aggregateAt += n;
            List<byte[]> memberShards = new ArrayList<>();
            for (FakeGateway.ReceivedPartial p : parts) {
                assertThat(p.header().getShardBytesCount()).isEqualTo(2);
                int offset = s == 0 ? 0 : (int) p.header().getShardBytes(0);
                memberShards.add(
                        p.data()
                                .substring(offset, offset + (int) p.header().getShardBytes(s))
                                .toByteArray());
            }
            float[] mean =
                    t < committee.size()
                            ? ts.combineShard(committee, t, shard, memberShards)
                            : ts.combineShard(committee, shard, memberShards);
            System.arraycopy(mean, 0, out, pos, mean.length);
            pos += mean.length;
        }
        assertThat(pos).isEqualTo(VALUES);
        return out;
    }

    private static void assertCloseToExpected(float[] mean, double[] expected) {
        double worst = 0;
        for (int i = 0; i < VALUES; i++) {
            worst = Math.max(worst, Math.abs(mean[i] - expected[i]));
        }
        assertThat(worst).as("largest difference to the plaintext weighted mean").isLessThan(1e-6);
    }

    private static Task keyShareTask(long epoch, byte[] seed, int t) {
        return Task.newBuilder()
                .setTaskId("k" + epoch + "/key-share")
                .setKeyShare(
                        KeyShareTask.newBuilder()
                                .setEpoch(epoch)
                                .setCommonSeed(ByteString.copyFrom(seed))
                                .addAllMembers(List.of("learner-1", "learner-2", "learner-3"))
                                .setThreshold(t))
                .build();
    }

    private static Task decryptTask(long epoch, long round, List<String> answering) {
        return Task.newBuilder()
                .setTaskId("r" + round + "/decrypt/0")
                .setRound(round)
                .setPartialDecrypt(
                        PartialDecryptTask.newBuilder()
                                .setEpoch(epoch)
                                .setRound(round)
                                .setAttempt(0)
                                .addAllAnswering(answering))
                .build();
    }

    private static Task train(String id, long round, long modelVersion, String keyId) {
        return Task.newBuilder()
                .setTaskId(id)
                .setRound(round)
                .setModelVersion(modelVersion)
                .setTrain(
                        org.metisfl.proto.v1.TrainTask.newBuilder()
                                .setEpochs(1)
                                .setBatchSize(16)
                                .setKeyId(keyId))
                .build();
    }

    private static Task shutdown() {
        return Task.newBuilder()
                .setTaskId("shutdown")
                .setShutdown(Shutdown.newBuilder().setReason("done"))
                .build();
    }

    private static LearnerOptions.Builder options() {
        return LearnerOptions.builder()
                .transportSecurity(TransportSecurity.insecure())
                .callTimeout(Duration.ofSeconds(10))
                .transferTimeout(Duration.ofSeconds(30))
                .reconnectInitialBackoff(Duration.ofMillis(20))
                .reconnectMaxBackoff(Duration.ofMillis(100))
                .maxReconnectAttempts(3);
    }

    private void start(ModelAdapter adapter, LearnerOptions options) {
        Learner l =
                Learner.builder()
                        .gateways(gateway.addresses())
                        .name("member")
                        .adapter(adapter)
                        .options(options)
                        .build();
        learners.add(l);
        CompletableFuture<LearnerSummary> result = new CompletableFuture<>();
        Thread thread =
                new Thread(
                        () -> {
                            try {
                                result.complete(l.run());
                            } catch (Throwable t) {
                                result.completeExceptionally(t);
                            }
                        },
                        "learner-run-" + learners.size());
        thread.setDaemon(true);
        thread.start();
        runs.add(result);
    }

    private LearnerSummary runToEnd(ModelAdapter adapter, LearnerOptions options) throws Exception {
        Learner l =
                Learner.builder()
                        .gateways(gateway.addresses())
                        .name("alice")
                        .adapter(adapter)
                        .options(options)
                        .build();
        learners.add(l);
        CompletableFuture<LearnerSummary> result = CompletableFuture.supplyAsync(l::run);
        try {
            return result.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof java.util.concurrent.CompletionException c
                    && c.getCause() != null) {
                cause = c.getCause();
            }
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    private void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            for (CompletableFuture<LearnerSummary> r : runs) {
                if (r.isCompletedExceptionally()) {
                    try {
                        r.join();
                    } catch (RuntimeException e) {
                        throw new AssertionError("a learner failed while waiting for " + what, e);
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
