package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.metisfl.flink.DecryptedModels.assertClose;
import static org.metisfl.flink.DecryptedModels.fedAvg;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.flink.testutil.ThresholdTestMember;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.PartialDecryptTask;
import org.metisfl.proto.v1.SubmitKeyShareResponse;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * Threshold mode in a federation, through the gateway (MiniCluster, real gRPC on 127.0.0.1,
 * RocksDB): test learners play the committee with the crypto classes. The coordinator draws the
 * committee, the members upload key shares (bad ones refused with their reasons), the job combines
 * the joint key and hands it out, learners upload updates encrypted under it, the answering members
 * upload partial decryptions of the round's aggregate (bad ones refused), and the job serves the
 * combined model in plaintext: plaintext FedAvg within the documented tolerance. With t = 2 of 3, a
 * member that stays silent is replaced by another at the decryption deadline.
 */
class ThresholdFederationITCase {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int SHARD = 8192;
    private static final int N = SHARD + 1808; // two shards, the last one short
    private static final List<TensorSpec> SPECS =
            List.of(RawLearner.spec("w", 40, 200), RawLearner.spec("b", N - 8000));
    private static final String PRESET = CkksParameters.THRESHOLD_PRESET;
    private static final List<Long> WEIGHTS = List.of(7L, 11L, 13L);

    @TempDir Path work;

    private static float[] update(int seed) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (float) (Math.cos(0.002 * i * (seed + 1)) * (seed + 1) - 0.2 * seed);
        }
        return v;
    }

    private Map<String, String> settings(int threshold, String timeout) throws Exception {
        Path modelFile = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                modelFile,
                List.of(
                        new TensorSpecInfo("w", new long[] {40, 200}),
                        new TensorSpecInfo("b", new long[] {N - 8000})),
                update(5));
        Map<String, String> s = new HashMap<>();
        s.put("secure-aggregation", "ckks-threshold");
        s.put("secure-aggregation.committee.size", "3");
        s.put("secure-aggregation.committee.threshold", Integer.toString(threshold));
        s.put("secure-aggregation.committee.decryption-timeout", timeout);
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        s.put("evaluation.enabled", "false");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.initial-model", modelFile.toString());
        s.put("federation.rounds", "2");
        s.put("federation.min-learners", "3");
        return s;
    }

    private static void assertRefused(Runnable call, Status.Code code, String reason) {
        assertThatThrownBy(call::run)
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(code);
                            assertThat(e.getStatus().getDescription()).startsWith(reason);
                        });
    }

    private List<ThresholdTestMember> joinAll(FederationHarness h, HeContext he) throws Exception {
        List<ThresholdTestMember> ls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ThresholdTestMember m = new ThresholdTestMember(h.learner(0), he, h.port(0), SHARD);
            JoinResponse j = m.raw().join("l" + i, WEIGHTS.get(i));
            assertThat(j.getEncryption().getPreset()).isEqualTo(PRESET);
            assertThat(j.getEncryption().getThreshold().getCommitteeSize()).isEqualTo(3);
            assertThat(j.getEncryption().getKeyId()).isEmpty();
            m.raw().openTaskStream();
            ls.add(m);
        }
        return ls;
    }

    /** Every member's key share; returns the joint key's id computed here from the shares. */
    private static String keyAll(List<ThresholdTestMember> ls, ThresholdHe th) throws Exception {
        List<PublicKeyShare> pub = new ArrayList<>();
        for (ThresholdTestMember m : ls) {
            KeyShareTask k = m.raw().nextTask(Task.KindCase.KEY_SHARE, WAIT).getKeyShare();
            KeyShareSubmission s = m.makeKeyShare(k);
            assertThat(m.submitKeyShare(s).getStatus())
                    .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
            // the same share again is harmless
            assertThat(m.submitKeyShare(s).getStatus())
                    .isEqualTo(SubmitKeyShareResponse.Status.DUPLICATE);
            pub.add(m.share().publicShare());
        }
        Committee c = th.combineKeyShares(pub);
        return HexFormat.of().formatHex(c.jointKey().keyId());
    }

    /** Round 1: every learner uploads its update under the joint key (one bad upload first). */
    private static List<float[]> trainRound1(List<ThresholdTestMember> ls, String keyId)
            throws Exception {
        List<float[]> ups = List.of(update(1), update(2), update(3));
        for (int i = 0; i < 3; i++) {
            ThresholdTestMember m = ls.get(i);
            Task t = m.raw().nextTask(Task.KindCase.TRAIN, WAIT);
            assertThat(t.getRound()).isEqualTo(1);
            assertThat(t.getTrain().getKeyId()).isEqualTo(keyId);
            PublicKey joint = m.jointKey();
            assertThat(HexFormat.of().formatHex(joint.keyId())).isEqualTo(keyId);
            if (i == 0) {
                // the served model is plaintext: the operator's file
                assertClose(m.raw().getModel().values(), update(5), 10);
                // an update under another key is refused
                PublicKey other =
                        HeBackends.context("metisfl-ckks", PRESET).generateKeys().publicKey();
                assertRefused(
                        () -> m.submitUpdate(1, SPECS, ups.get(0), WEIGHTS.get(0), other),
                        Status.Code.INVALID_ARGUMENT,
                        "wrong key");
            }
            assertThat(m.submitUpdate(1, SPECS, ups.get(i), WEIGHTS.get(i), joint).getStatus())
                    .isEqualTo(SubmitUpdateResponse.Status.ACCEPTED);
        }
        return ups;
    }

    @Test
    void committeeKeysThroughTheGatewayAndTheJobServesTheDecryptedFedAvg() throws Exception {
        HeContext he = HeBackends.context("metisfl-ckks", PRESET);
        ThresholdHe th = he.threshold().orElseThrow();
        try (FederationHarness h =
                FederationHarness.start(work.resolve("run"), settings(3, "60 s"))) {
            List<ThresholdTestMember> ls = joinAll(h, he);
            try {
                // bad key shares, refused with their reasons
                ThresholdTestMember m0 = ls.get(0);
                KeyShareTask k = m0.raw().nextTask(Task.KindCase.KEY_SHARE, WAIT).getKeyShare();
                assertThat(k.getMembersList()).hasSize(3);
                KeyShareSubmission otherSeed =
                        m0.makeKeyShare(
                                k.toBuilder()
                                        .setCommonSeed(ByteString.copyFrom(th.newCommonSeed()))
                                        .build());
                assertRefused(
                        () -> m0.submitKeyShare(otherSeed),
                        Status.Code.INVALID_ARGUMENT,
                        "wrong common seed");
                KeyShareSubmission good = m0.makeKeyShare(k);
                assertRefused(
                        () ->
                                m0.submitKeyShare(
                                        good.toBuilder()
                                                .setPublicShare(ByteString.copyFromUtf8("junk"))
                                                .build()),
                        Status.Code.INVALID_ARGUMENT,
                        "malformed key share");
                assertRefused(
                        () ->
                                m0.submitKeyShare(
                                        good.toBuilder().setEpoch(k.getEpoch() + 1).build()),
                        Status.Code.FAILED_PRECONDITION,
                        "stale epoch");
                // the task again (a reconnect would send it): the member answers it in keyAll
                String keyId = keyAllAfter(ls, th, k);
                List<float[]> ups = trainRound1(ls, keyId);

                // decryption: every member (n-out-of-n); bad partials first
                List<PartialDecryptTask> tasks = new ArrayList<>();
                for (ThresholdTestMember m : ls) {
                    tasks.add(
                            m.raw()
                                    .nextTask(Task.KindCase.PARTIAL_DECRYPT, WAIT)
                                    .getPartialDecrypt());
                }
                assertThat(tasks.get(0).getRound()).isEqualTo(1);
                assertThat(tasks.get(0).getAnsweringList()).hasSize(3);
                List<byte[]> p0 = ls.get(0).partials(tasks.get(0));
                List<byte[]> p1 = ls.get(1).partials(tasks.get(1));
                assertRefused(
                        () -> call(() -> ls.get(0).submitPartials(tasks.get(0), p0.subList(0, 1))),
                        Status.Code.INVALID_ARGUMENT,
                        "wrong shard count");
                assertRefused(
                        () ->
                                call(
                                        () ->
                                                ls.get(0)
                                                        .submitPartials(
                                                                tasks.get(0),
                                                                List.of(
                                                                        new byte[] {1, 2, 3},
                                                                        p0.get(1)))),
                        Status.Code.INVALID_ARGUMENT,
                        "malformed partial decryption");
                assertRefused(
                        () -> call(() -> ls.get(0).submitPartials(tasks.get(0), p1)),
                        Status.Code.INVALID_ARGUMENT,
                        "wrong member");
                assertRefused(
                        () ->
                                call(
                                        () ->
                                                ls.get(0)
                                                        .submitPartials(
                                                                tasks.get(0).toBuilder()
                                                                        .setAttempt(7)
                                                                        .build(),
                                                                p0)),
                        Status.Code.FAILED_PRECONDITION,
                        "no decryption in progress");
                assertThat(ls.get(0).submitPartials(tasks.get(0), p0).getStatus())
                        .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
                assertThat(ls.get(0).submitPartials(tasks.get(0), p0).getStatus())
                        .isEqualTo(SubmitKeyShareResponse.Status.DUPLICATE);
                assertThat(ls.get(1).submitPartials(tasks.get(1), p1).getStatus())
                        .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
                assertThat(
                                ls.get(2)
                                        .submitPartials(
                                                tasks.get(2), ls.get(2).partials(tasks.get(2)))
                                        .getStatus())
                        .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);

                // round 2 trains on the decrypted round-1 model, served in plaintext
                for (ThresholdTestMember m : ls) {
                    assertThat(m.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                }
                RawLearner.Model m1 = ls.get(1).raw().getModel();
                assertThat(m1.version()).isEqualTo(1);
                assertClose(m1.values(), fedAvg(ups, WEIGHTS), 5);
            } finally {
                for (ThresholdTestMember m : ls) {
                    m.close();
                }
            }
        }
    }

    /** keyAll, with the first member's task already taken from its stream. */
    private static String keyAllAfter(List<ThresholdTestMember> ls, ThresholdHe th, KeyShareTask k0)
            throws Exception {
        List<PublicKeyShare> pub = new ArrayList<>();
        for (int i = 0; i < ls.size(); i++) {
            ThresholdTestMember m = ls.get(i);
            KeyShareTask k =
                    i == 0 ? k0 : m.raw().nextTask(Task.KindCase.KEY_SHARE, WAIT).getKeyShare();
            assertThat(k).isEqualTo(k0);
            KeyShareSubmission s = m.makeKeyShare(k);
            assertThat(m.submitKeyShare(s).getStatus())
                    .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
            assertThat(m.submitKeyShare(s).getStatus())
                    .isEqualTo(SubmitKeyShareResponse.Status.DUPLICATE);
            pub.add(m.share().publicShare());
        }
        KeyShareSubmission another =
                KeyShareSubmission.newBuilder()
                        .setCredentials(ls.get(0).raw().credentials())
                        .setEpoch(k0.getEpoch())
                        .setPublicShare(
                                ByteString.copyFrom(
                                        th.serialize(
                                                th.generateKeyShare(
                                                                k0.getCommonSeed().toByteArray())
                                                        .publicShare())))
                        .build();
        // a second, different share of a member (its first one stands)
        assertRefused(
                () -> ls.get(0).submitKeyShare(another),
                Status.Code.INVALID_ARGUMENT,
                "duplicate key share");
        return HexFormat.of().formatHex(th.combineKeyShares(pub).jointKey().keyId());
    }

    @Test
    void twoOfThreeDecryptWhenAnAnsweringMemberStaysSilent() throws Exception {
        HeContext he = HeBackends.context("metisfl-ckks", PRESET);
        ThresholdHe th = he.threshold().orElseThrow();
        try (FederationHarness h =
                FederationHarness.start(work.resolve("run"), settings(2, "15 s"))) {
            List<ThresholdTestMember> ls = joinAll(h, he);
            try {
                String keyId = keyAll(ls, th);
                for (ThresholdTestMember m : ls) {
                    assertThat(m.raw().nextTask(Task.KindCase.DEAL, WAIT).getDeal().getThreshold())
                            .isEqualTo(2);
                    m.deal(2);
                }
                for (ThresholdTestMember m : ls) {
                    Task c = m.raw().nextTask(Task.KindCase.COMBINE_DEALINGS, WAIT);
                    assertThat(c.getCombineDealings().getDealingsList()).hasSize(2);
                    m.combine(c.getCombineDealings());
                }
                List<float[]> ups = trainRound1(ls, keyId);

                // attempt 1 asks two members; the first of them stays silent
                List<Integer> asked = new ArrayList<>();
                Map<Integer, PartialDecryptTask> first = new HashMap<>();
                long end = System.nanoTime() + WAIT.toNanos();
                while (asked.size() < 2 && System.nanoTime() < end) {
                    for (int i = 0; i < 3 && asked.size() < 2; i++) {
                        if (first.containsKey(i)) {
                            continue;
                        }
                        try {
                            Task t =
                                    ls.get(i)
                                            .raw()
                                            .nextTask(
                                                    Task.KindCase.PARTIAL_DECRYPT,
                                                    Duration.ofMillis(100));
                            asked.add(i);
                            first.put(i, t.getPartialDecrypt());
                        } catch (AssertionError none) {
                            // not (yet) asked
                        }
                    }
                }
                assertThat(asked).hasSize(2);
                assertThat(first.get(asked.get(0)).getAttempt()).isEqualTo(1);
                int silent = asked.get(0);
                int answered = asked.get(1);
                ThresholdTestMember a = ls.get(answered);
                assertThat(
                                a.submitPartials(
                                                first.get(answered),
                                                a.partials(first.get(answered)))
                                        .getStatus())
                        .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
                // at the deadline, attempt 2 asks the two others than the silent member
                int third = 3 - silent - answered;
                for (int i : new int[] {answered, third}) {
                    PartialDecryptTask t =
                            ls.get(i)
                                    .raw()
                                    .nextTask(Task.KindCase.PARTIAL_DECRYPT, WAIT)
                                    .getPartialDecrypt();
                    assertThat(t.getAttempt()).isEqualTo(2);
                    assertThat(t.getAnsweringList()).hasSize(2);
                    assertThat(ls.get(i).submitPartials(t, ls.get(i).partials(t)).getStatus())
                            .isEqualTo(SubmitKeyShareResponse.Status.ACCEPTED);
                }
                for (ThresholdTestMember m : ls) {
                    assertThat(m.raw().nextTask(Task.KindCase.TRAIN, WAIT).getRound()).isEqualTo(2);
                }
                RawLearner.Model m1 = ls.get(third).raw().getModel();
                assertThat(m1.version()).isEqualTo(1);
                assertClose(m1.values(), fedAvg(ups, WEIGHTS), 5);
            } finally {
                for (ThresholdTestMember m : ls) {
                    m.close();
                }
            }
        }
    }

    private interface Call {
        Object run() throws Exception;
    }

    private static void call(Call c) {
        try {
            c.run();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
