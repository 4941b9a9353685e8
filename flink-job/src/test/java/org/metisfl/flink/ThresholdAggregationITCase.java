package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.DecryptedModels.assertClose;
import static org.metisfl.flink.DecryptedModels.fedAvg;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShamirKeyShare;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ThresholdShards;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.CkksTestLearner.EncryptedModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Threshold mode through the job as it is (MiniCluster, real gRPC on 127.0.0.1, RocksDB), with a
 * committee key made outside it: the job gets the committee's joint key as its public parameters
 * ({@link ThresholdShards#writePublicParameters}), encrypts the initial model under it, and adds
 * learners' public-key ciphertexts without any key; the committee members (here, the test) decrypt
 * the served models from their partial decryptions, all three (n-out-of-n) or any two of three
 * (t-out-of-n). The decryption round through the gateway is not wired yet
 * (docs/explanation/secure-aggregation.md, "Threshold mode in a federation").
 */
class ThresholdAggregationITCase {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int SHARD = 8192;
    private static final int N = SHARD + 1808; // two shards, the last one short
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 40, 200), RawLearner.spec("b", N - 8000));
    private static final String PRESET = CkksParameters.THRESHOLD_PRESET;

    @TempDir Path work;

    private static float[] update(int seed) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.cos(0.002 * i * (seed + 1)) * (seed + 1) - 0.2 * seed);
        }
        return v;
    }

    @Test
    void jobAggregatesUnderACommitteeKeyAndTheCommitteeDecryptsAllOrTwoOfThree() throws Exception {
        HeContext he = HeBackends.context("metisfl-ckks", PRESET);
        ThresholdShards ts = ThresholdShards.of(he);
        ThresholdHe th = ts.threshold();
        byte[] seed = th.newCommonSeed();
        List<KeyShare> members = new ArrayList<>();
        List<PublicKeyShare> pub = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            KeyShare k = th.generateKeyShare(seed);
            members.add(k);
            pub.add(k.publicShare());
        }
        Committee committee = th.combineKeyShares(pub);
        // committee order, for the Shamir dealings (t = 2 of 3)
        List<KeyShare> ordered = new ArrayList<>();
        for (String id : committee.memberIds()) {
            for (KeyShare k : members) {
                if (ThresholdShards.memberId(k.publicShare()).equals(id)) {
                    ordered.add(k);
                }
            }
        }
        List<List<byte[]>> dealt = new ArrayList<>();
        for (KeyShare k : ordered) {
            dealt.add(th.dealShamirShares(k.secretShare(), committee, 2));
        }
        List<ShamirKeyShare> shamir = new ArrayList<>();
        for (int j = 0; j < 3; j++) {
            List<byte[]> toJ = new ArrayList<>();
            for (List<byte[]> d : dealt) {
                toJ.add(d.get(j));
            }
            shamir.add(th.combineDealings(ordered.get(j).secretShare(), committee, 2, toJ));
        }
        Path keyDir = work.resolve("keys");
        ts.writePublicParameters(keyDir, PRESET, committee, 3);
        String jointKeyId = HexFormat.of().formatHex(committee.jointKey().keyId());

        float[] initial = update(5);
        Path modelFile = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                modelFile,
                List.of(
                        new TensorSpecInfo("w", new long[] {40, 200}),
                        new TensorSpecInfo("b", new long[] {N - 8000})),
                initial);
        Map<String, String> s = new HashMap<>();
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.preset", PRESET);
        s.put("secure-aggregation.public-key", keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        s.put("evaluation.enabled", "false");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.initial-model", modelFile.toString());
        s.put("federation.rounds", "2");
        s.put("federation.min-learners", "3");
        // CkksTestLearner needs a bundle for its own helpers; this test encrypts and decrypts
        // with the committee instead and never uses it
        KeyBundle unused = KeyBundle.generate("metisfl-ckks", PRESET);
        List<float[]> ups = List.of(update(1), update(2), update(3));
        List<Long> weights = List.of(7L, 11L, 13L);
        try (FederationHarness h = FederationHarness.start(work.resolve("run"), s)) {
            List<CkksTestLearner> ls = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    CkksTestLearner l = new CkksTestLearner(h.learner(0), unused, h.port(0), SHARD);
                    JoinResponse j = l.raw().join("l" + i, weights.get(i));
                    assertThat(j.getEncryption().getPreset()).isEqualTo(PRESET);
                    assertThat(j.getEncryption().getKeyId()).isEqualTo(jointKeyId);
                    l.raw().openTaskStream();
                    ls.add(l);
                }
                for (CkksTestLearner l : ls) {
                    assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(1);
                }
                // version 0: the file, encrypted by the job under the joint key
                EncryptedModel v0 = ls.get(0).download();
                assertThat(v0.header().getEncryption().getKeyId()).isEqualTo(jointKeyId);
                assertClose(decryptAll(ts, committee, members, v0), initial, 10);

                for (int i = 0; i < 3; i++) {
                    List<byte[]> shards = new ArrayList<>();
                    for (int from = 0; from < N; from += SHARD) {
                        shards.add(
                                ts.encryptShard(
                                        committee.jointKey(),
                                        Arrays.copyOfRange(
                                                ups.get(i), from, Math.min(N, from + SHARD))));
                    }
                    Encryption.Builder e =
                            Encryption.newBuilder()
                                    .setBackendId(he.backendId())
                                    .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                                    .setPreset(PRESET)
                                    .setShardSize(SHARD);
                    for (byte[] b : shards) {
                        e.addShardBytes(b.length);
                    }
                    CkksTestLearner l = ls.get(i);
                    assertThat(
                                    l.raw()
                                            .submitRaw(
                                                    l.chunks(
                                                            1,
                                                            SPECS,
                                                            weights.get(i),
                                                            e.build(),
                                                            shards))
                                            .getStatus())
                            .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
                }
                for (CkksTestLearner l : ls) {
                    assertThat(l.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                }
                EncryptedModel m1 = ls.get(2).download();
                assertThat(m1.header().getModelVersion()).isEqualTo(1);
                assertThat(ShardCiphertexts.decode(m1.shards().get(1)).weightSum()).isEqualTo(31.0);
                float[] expected = fedAvg(ups, weights);
                assertClose(decryptAll(ts, committee, members, m1), expected, 5);
                // t-out-of-n: members 0 and 2 alone (member 1 "dropped out")
                List<String> answering =
                        List.of(committee.memberIds().get(0), committee.memberIds().get(2));
                float[] two = new float[N];
                int pos = 0;
                for (byte[] shard : m1.shards()) {
                    List<byte[]> parts = new ArrayList<>();
                    for (int j : new int[] {0, 2}) {
                        parts.add(
                                ts.partialDecryptShard(shamir.get(j), committee, shard, answering));
                    }
                    float[] v = ts.combineShard(committee, 2, shard, parts);
                    System.arraycopy(v, 0, two, pos, v.length);
                    pos += v.length;
                }
                assertClose(two, expected, 5);
            } finally {
                for (CkksTestLearner l : ls) {
                    l.close();
                }
            }
        }
    }

    /** Every member's partial shards, combined shard by shard (n-out-of-n). */
    private static float[] decryptAll(
            ThresholdShards ts, Committee committee, List<KeyShare> members, EncryptedModel m) {
        float[] out = new float[N];
        int pos = 0;
        for (byte[] shard : m.shards()) {
            List<byte[]> parts = new ArrayList<>();
            for (KeyShare k : members) {
                parts.add(ts.partialDecryptShard(k.secretShare(), shard));
            }
            float[] v = ts.combineShard(committee, shard, parts);
            System.arraycopy(v, 0, out, pos, v.length);
            pos += v.length;
        }
        assertThat(pos).isEqualTo(N);
        return out;
    }
}
