package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.crypto.ThresholdShards;

/**
 * Three committee members key a committee from their share directories, the weighted sum of three
 * updates encrypted under the joint key is decrypted from their partial decryptions, also after a
 * member restarts from its directory; share files of another committee, epoch or parameters are
 * refused with the reason.
 */
class ThresholdMemberTest {

    private static final String PRESET = "n13-q180-t";
    private static HeContext he;
    private static ThresholdShards ts;

    @TempDir Path work;

    @BeforeAll
    static void context() {
        he = HeBackends.context("metisfl-ckks", PRESET);
        ts = ThresholdShards.of(he);
    }

    private ThresholdMember member(int i) {
        return new ThresholdMember(work.resolve("member-" + i), he, PRESET);
    }

    private static float[] update(int k, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (Math.sin(0.01 * i + k) * (k + 1));
        }
        return v;
    }

    /** The job's part: Σ w·Enc(x) per ciphertext position, with Σ w beside it. */
    private static byte[] weightedSum(List<byte[]> updates, double[] weights) {
        List<ShardCiphertexts> ups = updates.stream().map(ShardCiphertexts::decode).toList();
        List<byte[]> sums = new ArrayList<>();
        for (int j = 0; j < ups.get(0).count(); j++) {
            CiphertextSum sum = he.newSum();
            for (int u = 0; u < ups.size(); u++) {
                Ciphertext c = he.deserializeCiphertext(ups.get(u).ciphertexts().get(j));
                sum.add(c, weights[u]);
            }
            sums.add(he.serialize(sum.result()));
        }
        double w = 0;
        for (double x : weights) {
            w += x;
        }
        return new ShardCiphertexts(w, sums).encode();
    }

    @Test
    void membersKeyACommitteeAndTheirPartialDecryptionsGiveTheWeightedMeanAlsoAfterARestart()
            throws Exception {
        byte[] seed = ts.threshold().newCommonSeed();
        List<PublicKeyShare> shares = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ThresholdMember.PublicPart p = member(i).keyShare(1, seed);
            PublicKeyShare s = ts.threshold().deserializePublicKeyShare(p.bytes());
            assertThat(ThresholdShards.memberId(s)).isEqualTo(p.memberId());
            shares.add(s);
            ids.add(p.memberId());
        }
        Committee committee = ts.threshold().combineKeyShares(shares);
        assertThat(committee.memberIds()).containsExactlyInAnyOrderElementsOf(ids);

        int n = 10_000; // two ciphertexts, the second one partial
        double[] weights = {7, 11, 13};
        List<byte[]> updates = new ArrayList<>();
        double[] expected = new double[n];
        for (int k = 0; k < 3; k++) {
            float[] x = update(k, n);
            updates.add(ts.encryptShard(committee.jointKey(), x));
            for (int i = 0; i < n; i++) {
                expected[i] += weights[k] * x[i] / 31.0;
            }
        }
        byte[] global = weightedSum(updates, weights);

        // member 2 restarts: a new instance on the same directory, the task comes again
        ThresholdMember restarted = member(2);
        assertThat(restarted.keyShare(1, seed).bytes())
                .isEqualTo(ts.threshold().serialize(shares.get(2)));
        List<byte[]> parts = new ArrayList<>();
        parts.add(member(0).partialDecryptShard(1, committee.memberIds(), global));
        parts.add(member(1).partialDecryptShard(1, List.of(), global));
        parts.add(restarted.partialDecryptShard(1, committee.memberIds(), global));

        float[] mean = ts.combineShard(committee, global, parts);
        assertThat(mean).hasSize(n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(mean[i] - expected[i]));
        }
        assertThat(worst).isLessThan(1e-6);
    }

    @Test
    void keepsTheSecretShareOwnerOnlyAndNeverOverwritesIt() throws Exception {
        ThresholdMember m = member(0);
        byte[] first = ts.threshold().newCommonSeed();
        m.keyShare(3, first);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(m.secretFile(3))))
                .isEqualTo("rw-------");
        byte[] before = Files.readAllBytes(m.secretFile(3));

        byte[] other = ts.threshold().newCommonSeed();
        assertThatThrownBy(() -> member(0).keyShare(3, other))
                .isInstanceOf(ThresholdMember.ShareFileException.class)
                .hasMessageContaining("threshold-epoch-3.share")
                .hasMessageContaining("belongs to another committee")
                .hasMessageContaining("share directory of its own per federation");
        assertThat(Files.readAllBytes(m.secretFile(3))).isEqualTo(before);

        // another epoch is another file
        assertThat(member(0).keyShare(4, other).memberId()).isNotEqualTo(m.memberId(3));
    }

    @Test
    void refusesAShareOfOtherParametersAMissingShareAndAShareOfAnotherCommittee() throws Exception {
        byte[] seed = ts.threshold().newCommonSeed();
        member(0).keyShare(1, seed);
        byte[] global = ShardCiphertexts.update(List.of()).encode();

        HeContext other = HeBackends.context("metisfl-ckks", "n13-q180");
        assertThatThrownBy(
                        () ->
                                new ThresholdMember(work.resolve("member-0"), other, "n13-q180")
                                        .partialDecryptShard(1, List.of(), global))
                .isInstanceOf(ThresholdMember.ShareFileException.class)
                .hasMessageContaining("preset " + PRESET)
                .hasMessageContaining("but the federation uses metisfl-ckks n13-q180")
                .hasMessageContaining("belongs to another federation");

        assertThatThrownBy(() -> member(0).partialDecryptShard(2, List.of(), global))
                .isInstanceOf(ThresholdMember.ShareFileException.class)
                .hasMessageContaining("no key share of committee epoch 2")
                .hasMessageContaining("threshold-epoch-2.share is missing");

        assertThatThrownBy(
                        () ->
                                member(0)
                                        .partialDecryptShard(
                                                1,
                                                List.of("00112233445566778899aabbccddeeff"),
                                                global))
                .isInstanceOf(ThresholdMember.ShareFileException.class)
                .hasMessageContaining("not a member of committee epoch 1");

        // the halves of two shares mixed up
        member(1).keyShare(1, seed);
        Files.copy(
                work.resolve("member-1").resolve("threshold-epoch-1.properties"),
                work.resolve("member-0").resolve("threshold-epoch-1.properties"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> member(0).partialDecryptShard(1, List.of(), global))
                .isInstanceOf(ThresholdMember.ShareFileException.class)
                .hasMessageContaining("are not the two halves of one key share");
    }

    @Test
    void twoOfThreeMembersDecryptAfterDealingThroughSealedDealingsThatOnlyTheRecipientOpens()
            throws Exception {
        byte[] seed = ts.threshold().newCommonSeed();
        List<ThresholdMember.Member> members = new ArrayList<>();
        List<PublicKeyShare> shares = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ThresholdMember.PublicPart p = member(i).keyShare(5, seed, true);
            assertThat(p.transportPublicKey()).isNotNull();
            assertThat(
                            PosixFilePermissions.toString(
                                    Files.getPosixFilePermissions(member(i).transportFile(5))))
                    .isEqualTo("rw-------");
            members.add(new ThresholdMember.Member("L" + i, p.memberId(), p.transportPublicKey()));
            shares.add(ts.threshold().deserializePublicKeyShare(p.bytes()));
        }
        Committee committee = ts.threshold().combineKeyShares(shares);

        List<ThresholdMember.Sealed> all = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            List<ThresholdMember.Sealed> sent = member(i).deal(5, committee, 2, "L" + i, members);
            assertThat(sent)
                    .hasSize(2)
                    .extracting(ThresholdMember.Sealed::from)
                    .containsOnly("L" + i);
            // dealing again (the task came twice) sends the very same sealed dealings
            assertThat(member(i).deal(5, committee, 2, "L" + i, members))
                    .extracting(ThresholdMember.Sealed::sealed)
                    .containsExactlyInAnyOrderElementsOf(
                            sent.stream().map(ThresholdMember.Sealed::sealed).toList());
            all.addAll(sent);
        }
        // a dealing to L1 does not open for L2
        ThresholdMember.Sealed toL1 =
                all.stream().filter(d -> d.to().equals("L1")).findFirst().orElseThrow();
        assertThatThrownBy(
                        () ->
                                member(2)
                                        .combineDealings(
                                                5,
                                                committee,
                                                2,
                                                List.of(
                                                        new ThresholdMember.Sealed(
                                                                toL1.from(), "L2", toL1.sealed()),
                                                        toL1),
                                                members))
                .hasMessageContaining("does not open with this member's transport key");
        for (int i = 0; i < 3; i++) {
            String me = "L" + i;
            member(i)
                    .combineDealings(
                            5,
                            committee,
                            2,
                            all.stream().filter(d -> d.to().equals(me)).toList(),
                            members);
            assertThat(member(i).hasShamirShare(5)).isTrue();
        }

        int n = 9000;
        double[] weights = {2, 3};
        List<byte[]> updates = new ArrayList<>();
        double[] expected = new double[n];
        for (int k = 0; k < 2; k++) {
            float[] x = update(k + 4, n);
            updates.add(ts.encryptShard(committee.jointKey(), x));
            for (int i = 0; i < n; i++) {
                expected[i] += weights[k] * x[i] / 5.0;
            }
        }
        byte[] global = weightedSum(updates, weights);
        // members 0 and 2 answer, member 1 is gone
        List<String> answering = List.of(members.get(0).shareId(), members.get(2).shareId());
        List<byte[]> parts =
                List.of(
                        member(0).partialDecryptShard(5, committee, answering, global),
                        member(2).partialDecryptShard(5, committee, answering, global));
        float[] mean = ts.combineShard(committee, 2, global, parts);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(mean[i] - expected[i]));
        }
        assertThat(worst).isLessThan(1e-6);
    }
}
