package org.metisfl.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A round in threshold mode at the shard level: learners encrypt shards under the joint key, the
 * controller sums them without a key (as the job's secure sum does), every committee member
 * partially decrypts the global shard, the combination is the weighted mean.
 */
class ThresholdShardsTest {

    private final HeContext he =
            HeBackends.context("metisfl-ckks", CkksParameters.THRESHOLD_PRESET);
    private final ThresholdShards ts = ThresholdShards.of(he);
    private final ThresholdHe th = ts.threshold();

    @Test
    void membersKeepTheirSharesInOwnerOnlyFilesThatLoadBackAndRefuseOtherKinds(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        byte[] seed = th.newCommonSeed();
        KeyShare a = th.generateKeyShare(seed);
        KeyShare b = th.generateKeyShare(seed);
        Committee committee = th.combineKeyShares(List.of(a.publicShare(), b.publicShare()));
        java.nio.file.Path file = dir.resolve("member/threshold-share.key");
        ThresholdShards.writeSecret(file, th.serialize(a.secretShare()));
        assertThat(java.nio.file.Files.getPosixFilePermissions(file))
                .containsExactlyInAnyOrder(
                        java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        SecretKeyShare back = ts.loadSecretShare(file);
        assertThat(back.shareId()).isEqualTo(a.secretShare().shareId());
        float[] x = {0.5f, -0.25f};
        Ciphertext ct = he.encrypt(committee.jointKey(), x, 0, 2);
        double[] got =
                th.combine(
                        committee,
                        ct,
                        List.of(
                                th.partialDecrypt(back, ct, 1),
                                th.partialDecrypt(b.secretShare(), ct, 1)));
        assertThat(got[1]).isCloseTo(-0.25, org.assertj.core.api.Assertions.within(1e-7));
        assertThatThrownBy(() -> ThresholdShards.writeSecret(file, th.serialize(b.secretShare())))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        assertThatThrownBy(() -> ts.loadShamirShare(file))
                .hasMessageContaining("holds a SECRET_KEY_SHARE, not a SHAMIR_KEY_SHARE");
        assertThatThrownBy(
                        () ->
                                ThresholdShards.writeSecret(
                                        dir.resolve("pub"), th.serialize(a.publicShare())))
                .hasMessageContaining("not a secret key share");
    }

    @Test
    void committeePublicParametersAreTheSharedKeyPropertiesWithTheJointKey(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        byte[] seed = th.newCommonSeed();
        KeyShare a = th.generateKeyShare(seed);
        KeyShare b = th.generateKeyShare(seed);
        KeyShare c = th.generateKeyShare(seed);
        Committee committee =
                th.combineKeyShares(List.of(a.publicShare(), b.publicShare(), c.publicShare()));
        ts.writePublicParameters(dir, CkksParameters.THRESHOLD_PRESET, committee, 2);
        java.util.Properties p = new java.util.Properties();
        try (var in = java.nio.file.Files.newBufferedReader(dir.resolve(KeyBundle.PUBLIC_FILE))) {
            p.load(in);
        }
        assertThat(p.getProperty("secure-aggregation")).isEqualTo("ckks");
        assertThat(p.getProperty("secure-aggregation.backend")).isEqualTo("metisfl-ckks");
        assertThat(p.getProperty("secure-aggregation.preset"))
                .isEqualTo(CkksParameters.THRESHOLD_PRESET);
        assertThat(p.getProperty("parameter-hash"))
                .isEqualTo(java.util.HexFormat.of().formatHex(he.parameterHash()));
        assertThat(p.getProperty("key-id"))
                .isEqualTo(java.util.HexFormat.of().formatHex(committee.jointKey().keyId()));
        assertThat(p.getProperty("threshold.members").split(","))
                .containsExactlyElementsOf(committee.memberIds());
        assertThat(p.getProperty("threshold.t")).isEqualTo("2");
        assertThat(p.stringPropertyNames()).noneMatch(k -> k.contains("secret"));
        // the job's view: an ordinary public key, encrypting what the committee decrypts
        PublicKey key =
                he.deserializePublicKey(
                        java.util.Base64.getDecoder().decode(p.getProperty("public-key")));
        assertThat(
                        HeEnvelope.of(
                                        java.util.Base64.getDecoder()
                                                .decode(p.getProperty("public-key")))
                                .kind())
                .isEqualTo(HeEnvelope.Kind.PUBLIC_KEY);
        float[] x = {4f, -8f};
        Ciphertext ct = he.encrypt(key, x, 0, 2);
        double[] got =
                th.combine(
                        committee,
                        ct,
                        List.of(
                                th.partialDecrypt(a.secretShare(), ct, 1),
                                th.partialDecrypt(b.secretShare(), ct, 1),
                                th.partialDecrypt(c.secretShare(), ct, 1)));
        assertThat(got[1]).isCloseTo(-8, org.assertj.core.api.Assertions.within(1e-7));
        assertThatThrownBy(
                        () ->
                                ts.writePublicParameters(
                                        dir, CkksParameters.THRESHOLD_PRESET, committee, 2))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        assertThatThrownBy(
                        () -> ts.writePublicParameters(dir.resolve("x"), "n13-q120", committee, 2))
                .hasMessageContaining("is not the committee's parameters");
        assertThatThrownBy(
                        () ->
                                ts.writePublicParameters(
                                        dir.resolve("y"),
                                        CkksParameters.THRESHOLD_PRESET,
                                        committee,
                                        4))
                .hasMessageContaining("between 1 and 3");
    }

    @Test
    void committeeDecryptsTheWeightedMeanOfEncryptedShards() {
        byte[] seed = th.newCommonSeed();
        List<KeyShare> members = new ArrayList<>();
        List<PublicKeyShare> pub = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            KeyShare k = th.generateKeyShare(seed);
            members.add(k);
            pub.add(k.publicShare());
        }
        Committee committee = th.combineKeyShares(pub);
        assertThat(committee.memberIds()).contains(ThresholdShards.memberId(pub.get(2)));
        int len = he.valuesPerCiphertext() + 50;
        SplittableRandom r = new SplittableRandom(4);
        double[] weights = {120, 30, 75};
        double[] exact = new double[len];
        List<CiphertextSum> sums = List.of(he.newSum(), he.newSum());
        for (double w : weights) {
            float[] x = new float[len];
            for (int i = 0; i < len; i++) {
                x[i] = (float) (r.nextDouble() * 2 - 1);
                exact[i] += w * x[i] / 225;
            }
            ShardCiphertexts upd =
                    ShardCiphertexts.decode(ts.encryptShard(committee.jointKey(), x));
            for (int j = 0; j < 2; j++) {
                sums.get(j).add(he.deserializeCiphertext(upd.ciphertexts().get(j)), w);
            }
        }
        List<byte[]> cts = new ArrayList<>();
        for (CiphertextSum s : sums) {
            cts.add(he.serialize(s.result()));
        }
        byte[] global = new ShardCiphertexts(225, cts).encode();
        List<byte[]> partials = new ArrayList<>();
        for (KeyShare k : members) {
            partials.add(ts.partialDecryptShard(k.secretShare(), global));
        }
        float[] mean = ts.combineShard(committee, global, partials);
        assertThat(mean).hasSize(len);
        for (int i = 0; i < len; i++) {
            assertThat((double) mean[i])
                    .isCloseTo(exact[i], org.assertj.core.api.Assertions.within(1e-6));
        }
        assertThatThrownBy(() -> ts.combineShard(committee, global, partials.subList(0, 3)))
                .hasMessageContaining("1 of 4 missing");

        // t-out-of-n (3 of 4): every member deals, each combines its dealings, 3 decrypt
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
            dealt.add(th.dealShamirShares(k.secretShare(), committee, 3));
        }
        List<byte[]> tPartials = new ArrayList<>();
        List<String> answering = committee.memberIds().subList(1, 4);
        for (int j = 1; j < 4; j++) {
            List<byte[]> toJ = new ArrayList<>();
            for (List<byte[]> d : dealt) {
                toJ.add(d.get(j));
            }
            ShamirKeyShare sh = th.combineDealings(ordered.get(j).secretShare(), committee, 3, toJ);
            tPartials.add(ts.partialDecryptShard(sh, committee, global, answering));
        }
        float[] tMean = ts.combineShard(committee, 3, global, tPartials);
        for (int i = 0; i < len; i++) {
            assertThat((double) tMean[i])
                    .isCloseTo(exact[i], org.assertj.core.api.Assertions.within(1e-6));
        }
        byte[] wrongWeight =
                new ShardCiphertexts(224, ShardCiphertexts.decode(partials.get(0)).ciphertexts())
                        .encode();
        List<byte[]> bad = new ArrayList<>(partials.subList(1, 4));
        bad.add(wrongWeight);
        assertThatThrownBy(() -> ts.combineShard(committee, global, bad))
                .hasMessageContaining("does not match the shard");
    }
}
