package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import java.security.KeyFactory;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.flink.config.ThresholdOptions;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.proto.v1.CombineDealingsTask;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.CommitteeMember;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.PartialDecryptionHeader;
import org.metisfl.proto.v1.SealedDealing;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.ThresholdDirective;
import org.metisfl.proto.v1.ThresholdInfo;

/**
 * One gateway's side of threshold mode: the coordinator's latest threshold state (keying,
 * committee, dealings, the decryption in progress with its encrypted aggregate), the committee
 * tasks it hands to members, and the checks of what members upload (key shares, dealings, partial
 * decryptions) before anything enters the job. Every refusal starts with its reason (see the
 * learner protocol). Rebuilt from the coordinator's directives after a restart.
 */
final class ThresholdGate {
    private final ThresholdOptions options;
    private volatile ThresholdDirective state = ThresholdDirective.getDefaultInstance();

    /** What this gateway accepted and the directives may not say yet (resends are DUPLICATE). */
    private final Map<String, ByteString> sharesSeen = new HashMap<>();

    private final Set<String> dealingsSeen = new HashSet<>();
    private final Set<String> partialsSeen = new HashSet<>();

    ThresholdGate(ThresholdOptions options) {
        this.options = options;
    }

    ThresholdOptions options() {
        return options;
    }

    private HeContext he() {
        return HeContexts.of(options.backend(), options.preset());
    }

    private ThresholdHe th() {
        return he().threshold().orElseThrow();
    }

    /** Takes the coordinator's threshold state; returns the learners that may have new tasks. */
    synchronized Set<String> apply(ThresholdDirective d) {
        ThresholdDirective before = state;
        if (before.hasKeying() && d.hasKeying()
                ? d.getKeying().getEpoch() != before.getKeying().getEpoch()
                : before.hasKeying() != d.hasKeying()) {
            sharesSeen.clear();
        }
        if (!d.hasDeal()) {
            dealingsSeen.clear();
        }
        if (!d.hasDecrypt()
                || !before.hasDecrypt()
                || d.getDecrypt().getRound() != before.getDecrypt().getRound()
                || d.getDecrypt().getAttempt() != before.getDecrypt().getAttempt()) {
            partialsSeen.clear();
        }
        state = d;
        Set<String> affected = new HashSet<>(d.getKeying().getMembersList());
        for (CommitteeMember m : d.getCommittee().getMembersList()) {
            affected.add(m.getLearnerId());
        }
        return affected;
    }

    /** The joint key's id (hex), or null before the committee made it. */
    String keyId() {
        ThresholdDirective d = state;
        return d.hasCommittee() ? d.getCommittee().getKeyId() : null;
    }

    /** What JoinResponse.encryption says of threshold mode. */
    ThresholdInfo info() {
        ThresholdDirective d = state;
        return ThresholdInfo.newBuilder()
                .setCommitteeSize(options.committeeSize())
                .setThreshold(options.threshold())
                .setKeyEpoch(d.hasCommittee() ? d.getCommittee().getEpoch() : 0)
                .build();
    }

    /** The committee tasks outstanding for {@code learner} (none for non-members). */
    List<Task> tasksFor(String learner) {
        ThresholdDirective d = state;
        List<Task> tasks = new ArrayList<>(2);
        synchronized (this) {
            if (d.hasKeying()
                    && d.getKeying().getMembersList().contains(learner)
                    && !d.getSharesInList().contains(learner)
                    && !sharesSeen.containsKey(learner)) {
                KeyShareTask k = d.getKeying();
                tasks.add(
                        Task.newBuilder()
                                .setTaskId("k" + k.getEpoch() + "/key-share")
                                .setKeyShare(k)
                                .build());
            }
            if (d.hasDeal()
                    && isMember(d, learner)
                    && !d.getDealingsInList().contains(learner)
                    && !dealingsSeen.contains(learner)) {
                tasks.add(
                        Task.newBuilder()
                                .setTaskId("k" + d.getDeal().getEpoch() + "/deal")
                                .setDeal(d.getDeal())
                                .build());
            }
            if (d.getDealingsCount() > 0 && isMember(d, learner)) {
                CombineDealingsTask.Builder c =
                        CombineDealingsTask.newBuilder()
                                .setEpoch(d.getCommittee().getEpoch())
                                .setThreshold(d.getCommittee().getThreshold());
                for (SealedDealing s : d.getDealingsList()) {
                    if (s.getToLearnerId().equals(learner)) {
                        c.addDealings(s);
                    }
                }
                tasks.add(
                        Task.newBuilder()
                                .setTaskId("k" + c.getEpoch() + "/combine")
                                .setCombineDealings(c)
                                .build());
            }
            if (d.hasDecrypt()
                    && d.getAnsweringLearnersList().contains(learner)
                    && !d.getDecryptedByList().contains(learner)
                    && !partialsSeen.contains(learner)) {
                tasks.add(
                        Task.newBuilder()
                                .setTaskId(
                                        "r"
                                                + d.getDecrypt().getRound()
                                                + "/decrypt/"
                                                + d.getDecrypt().getAttempt())
                                .setRound(d.getDecrypt().getRound())
                                .setModelVersion(d.getDecrypt().getRound())
                                .setPartialDecrypt(d.getDecrypt())
                                .build());
            }
        }
        return tasks;
    }

    private static boolean isMember(ThresholdDirective d, String learner) {
        for (CommitteeMember m : d.getCommittee().getMembersList()) {
            if (m.getLearnerId().equals(learner)) {
                return true;
            }
        }
        return false;
    }

    /** The committee for GetCommittee, or a refusal. */
    CommitteeInfo committee(boolean includeShares) {
        ThresholdDirective d = state;
        if (!d.hasCommittee()) {
            throw LearnerStatus.failedPrecondition(
                    "no joint key yet: the committee is still making it; wait for a training task");
        }
        CommitteeInfo c = d.getCommittee();
        if (includeShares) {
            return c;
        }
        CommitteeInfo.Builder b = c.toBuilder().clearMembers();
        for (CommitteeMember m : c.getMembersList()) {
            b.addMembers(m.toBuilder().clearPublicShare());
        }
        return b.build();
    }

    /** The outcome of a member's upload: refused, accepted (enter the job) or a duplicate. */
    record Check(StatusRuntimeException refusal, boolean duplicate) {
        static final Check ACCEPTED = new Check(null, false);
        static final Check DUPLICATE = new Check(null, true);

        static Check refuse(StatusRuntimeException e) {
            return new Check(e, false);
        }
    }

    /** Checks a key share; on ACCEPTED it is remembered (a resend is then DUPLICATE). */
    synchronized Check checkKeyShare(String learner, KeyShareSubmission s) {
        ThresholdDirective d = state;
        if (!d.hasKeying()) {
            if (d.hasCommittee()
                    && d.getCommittee().getEpoch() == s.getEpoch()
                    && memberShare(d, learner) != null) {
                return memberShare(d, learner).equals(s.getPublicShare())
                        ? Check.DUPLICATE
                        : Check.refuse(
                                LearnerStatus.invalid(
                                        "duplicate key share: learner "
                                                + learner
                                                + " already sent another share for key epoch "
                                                + s.getEpoch()
                                                + "; send the share you sent first"));
            }
            return Check.refuse(
                    LearnerStatus.failedPrecondition(
                            "no keying in progress"
                                    + (d.hasCommittee()
                                            ? ": the committee of key epoch "
                                                    + d.getCommittee().getEpoch()
                                                    + " has its joint key"
                                            : "")
                                    + "; drop this key share"));
        }
        KeyShareTask k = d.getKeying();
        if (s.getEpoch() != k.getEpoch()) {
            return Check.refuse(
                    LearnerStatus.failedPrecondition(
                            "stale epoch: key epoch "
                                    + s.getEpoch()
                                    + " is not the one being keyed ("
                                    + k.getEpoch()
                                    + "); drop this key share"));
        }
        if (!k.getMembersList().contains(learner)) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "not a committee member: learner "
                                    + learner
                                    + " is not on the committee of key epoch "
                                    + k.getEpoch()));
        }
        PublicKeyShare share;
        try {
            share = th().deserializePublicKeyShare(s.getPublicShare().toByteArray());
        } catch (IncompatibleCiphertextException e) {
            return Check.refuse(LearnerStatus.invalid("incompatible key share: " + e.getMessage()));
        } catch (IllegalArgumentException e) {
            return Check.refuse(LearnerStatus.invalid("malformed key share: " + e.getMessage()));
        }
        if (!java.util.Arrays.equals(share.commonSeed(), k.getCommonSeed().toByteArray())) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "wrong common seed: the share was made from another seed than key"
                                    + " epoch "
                                    + k.getEpoch()
                                    + "'s KeyShareTask.common_seed"));
        }
        if (options.shamir()) {
            if (s.getTransportPublicKey().isEmpty()) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "missing transport key: with t = "
                                        + options.threshold()
                                        + " < N = "
                                        + options.committeeSize()
                                        + " the members' dealings are sealed to it; send an"
                                        + " X25519 public key (X.509) with the share"));
            }
            try {
                KeyFactory.getInstance("X25519")
                        .generatePublic(
                                new X509EncodedKeySpec(s.getTransportPublicKey().toByteArray()));
            } catch (Exception e) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "malformed transport key: not an X25519 public key in X.509 form"
                                        + " ("
                                        + e.getMessage()
                                        + ")"));
            }
        }
        ByteString seen = sharesSeen.get(learner);
        if (seen != null || d.getSharesInList().contains(learner)) {
            if (seen == null || seen.equals(s.getPublicShare())) {
                return Check.DUPLICATE;
            }
            return Check.refuse(
                    LearnerStatus.invalid(
                            "duplicate key share: learner "
                                    + learner
                                    + " already sent another share for key epoch "
                                    + k.getEpoch()
                                    + "; send the share you sent first"));
        }
        sharesSeen.put(learner, s.getPublicShare());
        return Check.ACCEPTED;
    }

    private static ByteString memberShare(ThresholdDirective d, String learner) {
        for (CommitteeMember m : d.getCommittee().getMembersList()) {
            if (m.getLearnerId().equals(learner)) {
                return m.getPublicShare();
            }
        }
        return null;
    }

    /** Checks a member's sealed dealings (t &lt; N). */
    synchronized Check checkDealings(String learner, DealingsSubmission s) {
        ThresholdDirective d = state;
        if (!d.hasDeal()) {
            if (d.getDealingsCount() > 0 && isMember(d, learner)) {
                return Check.DUPLICATE;
            }
            return Check.refuse(
                    LearnerStatus.failedPrecondition(
                            "no dealing in progress; drop these dealings"));
        }
        if (s.getEpoch() != d.getDeal().getEpoch()) {
            return Check.refuse(
                    LearnerStatus.failedPrecondition(
                            "stale epoch: key epoch "
                                    + s.getEpoch()
                                    + " is not the one dealing ("
                                    + d.getDeal().getEpoch()
                                    + "); drop these dealings"));
        }
        if (!isMember(d, learner)) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "not a committee member: learner " + learner + " deals no share"));
        }
        Set<String> expected = new HashSet<>();
        for (CommitteeMember m : d.getCommittee().getMembersList()) {
            if (!m.getLearnerId().equals(learner)) {
                expected.add(m.getLearnerId());
            }
        }
        Set<String> got = new HashSet<>();
        for (SealedDealing x : s.getDealingsList()) {
            if (!x.getFromLearnerId().equals(learner)
                    || !expected.contains(x.getToLearnerId())
                    || !got.add(x.getToLearnerId())
                    || x.getSealed().isEmpty()) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "wrong recipients: send exactly one non-empty sealed dealing from "
                                        + learner
                                        + " to each other member "
                                        + expected
                                        + " (got one from "
                                        + x.getFromLearnerId()
                                        + " to "
                                        + x.getToLearnerId()
                                        + ")"));
            }
        }
        if (!got.equals(expected)) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "wrong recipients: dealings to " + got + ", expected " + expected));
        }
        if (dealingsSeen.contains(learner) || d.getDealingsInList().contains(learner)) {
            return Check.DUPLICATE;
        }
        dealingsSeen.add(learner);
        return Check.ACCEPTED;
    }

    /** The aggregate a member of the answering set downloads. */
    ModelBoard.ModelSnapshot aggregate(
            String learner, long round, List<TensorSpec> tensors, int chunkBytes, Encryption e) {
        ThresholdDirective d = state;
        if (!d.hasDecrypt() || d.getDecrypt().getRound() != round) {
            throw LearnerStatus.failedPrecondition(
                    "no aggregate to decrypt: round "
                            + round
                            + " is not being decrypted"
                            + (d.hasDecrypt()
                                    ? " (round " + d.getDecrypt().getRound() + " is)"
                                    : ""));
        }
        if (!d.getAnsweringLearnersList().contains(learner)) {
            throw LearnerStatus.invalid(
                    "not in the answering set: learner "
                            + learner
                            + " is not asked to decrypt round "
                            + round);
        }
        Encryption.Builder enc = e.toBuilder().clearShardBytes().setKeyId(keyId());
        for (ByteString s : d.getAggregateList()) {
            enc.addShardBytes(s.size());
        }
        return new ModelBoard.ModelSnapshot(
                round, tensors, ModelChunks.of(d.getAggregateList(), chunkBytes), enc.build());
    }

    /**
     * Checks the header of a member's partial decryptions; returns a refusal, DUPLICATE, or
     * ACCEPTED (the bytes come next; {@link #checkPartials} checks them).
     */
    synchronized Check checkPartialHeader(String learner, PartialDecryptionHeader h) {
        ThresholdDirective d = state;
        if (!d.hasDecrypt()
                || d.getDecrypt().getRound() != h.getRound()
                || d.getDecrypt().getAttempt() != h.getAttempt()
                || d.getDecrypt().getEpoch() != h.getEpoch()) {
            return Check.refuse(
                    LearnerStatus.failedPrecondition(
                            "no decryption in progress for round "
                                    + h.getRound()
                                    + " attempt "
                                    + h.getAttempt()
                                    + (d.hasDecrypt()
                                            ? " (round "
                                                    + d.getDecrypt().getRound()
                                                    + " attempt "
                                                    + d.getDecrypt().getAttempt()
                                                    + " is)"
                                            : "")
                                    + "; drop it"));
        }
        if (!d.getAnsweringLearnersList().contains(learner)) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "not in the answering set: learner "
                                    + learner
                                    + " is not asked to decrypt round "
                                    + h.getRound()
                                    + " attempt "
                                    + h.getAttempt()));
        }
        if (h.getShardBytesCount() != d.getAggregateCount()) {
            return Check.refuse(
                    LearnerStatus.invalid(
                            "wrong shard count: "
                                    + h.getShardBytesCount()
                                    + " partial shards announced, the aggregate has "
                                    + d.getAggregateCount()));
        }
        for (int s = 0; s < h.getShardBytesCount(); s++) {
            long n = h.getShardBytes(s);
            if (n <= 0 || n > d.getAggregate(s).size() + (1 << 16)) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "wrong byte count: partial shard "
                                        + s
                                        + " announces "
                                        + n
                                        + " bytes; the aggregate's shard has "
                                        + d.getAggregate(s).size()));
            }
        }
        if (partialsSeen.contains(learner) || d.getDecryptedByList().contains(learner)) {
            return Check.DUPLICATE;
        }
        return Check.ACCEPTED;
    }

    /**
     * Checks a member's partial shards against the aggregate (count, weight sum, member, key) and
     * remembers them on ACCEPTED.
     */
    synchronized Check checkPartials(
            String learner, PartialDecryptionHeader h, List<byte[]> partialShards) {
        Check c = checkPartialHeader(learner, h);
        if (c.refusal() != null || c.duplicate()) {
            return c;
        }
        ThresholdDirective d = state;
        String shareId = null;
        for (CommitteeMember m : d.getCommittee().getMembersList()) {
            if (m.getLearnerId().equals(learner)) {
                shareId = m.getShareId();
            }
        }
        String keyId = keyId();
        for (int s = 0; s < partialShards.size(); s++) {
            ShardCiphertexts agg = ShardCiphertexts.decode(d.getAggregate(s).toByteArray());
            ShardCiphertexts mine;
            try {
                mine = ShardCiphertexts.decode(partialShards.get(s));
            } catch (IllegalArgumentException e) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "malformed partial decryption: shard "
                                        + s
                                        + ": "
                                        + e.getMessage()));
            }
            if (mine.count() != agg.count()) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "wrong ciphertext count: shard "
                                        + s
                                        + " has "
                                        + mine.count()
                                        + " partial decryptions, the aggregate "
                                        + agg.count()
                                        + " ciphertexts"));
            }
            if (mine.weightSum() != agg.weightSum()) {
                return Check.refuse(
                        LearnerStatus.invalid(
                                "wrong weight sum: shard "
                                        + s
                                        + " echoes "
                                        + mine.weightSum()
                                        + ", the aggregate's is "
                                        + agg.weightSum()));
            }
            for (byte[] b : mine.ciphertexts()) {
                PartialDecryption p;
                try {
                    p = th().deserializePartialDecryption(b);
                } catch (IncompatibleCiphertextException e) {
                    return Check.refuse(
                            LearnerStatus.invalid(
                                    "incompatible partial decryption: shard "
                                            + s
                                            + ": "
                                            + e.getMessage()));
                } catch (IllegalArgumentException e) {
                    return Check.refuse(
                            LearnerStatus.invalid(
                                    "malformed partial decryption: shard "
                                            + s
                                            + ": "
                                            + e.getMessage()));
                }
                if (!HexFormat.of().formatHex(p.shareId()).equals(shareId)) {
                    return Check.refuse(
                            LearnerStatus.invalid(
                                    "wrong member: a partial decryption of shard "
                                            + s
                                            + " was made with share "
                                            + HexFormat.of().formatHex(p.shareId())
                                            + ", learner "
                                            + learner
                                            + "'s share is "
                                            + shareId));
                }
                if (!HexFormat.of().formatHex(p.keyId()).equals(keyId)) {
                    return Check.refuse(
                            LearnerStatus.invalid(
                                    "wrong key: a partial decryption of shard "
                                            + s
                                            + " is of a ciphertext under key "
                                            + HexFormat.of().formatHex(p.keyId())
                                            + ", the aggregate is under the joint key "
                                            + keyId));
                }
            }
        }
        partialsSeen.add(learner);
        return Check.ACCEPTED;
    }

    /** The bound of the bytes a member's partial decryptions may announce in all. */
    long maxPartialBytes() {
        long n = 0;
        for (ByteString s : state.getAggregateList()) {
            n += s.size() + (1 << 16);
        }
        return n;
    }
}
