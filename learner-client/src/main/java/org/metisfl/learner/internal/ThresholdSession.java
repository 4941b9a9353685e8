package org.metisfl.learner.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.ThresholdInfo;

/**
 * A learner's view of a threshold-mode federation ({@code secure-aggregation: ckks-threshold}): the
 * federation's parameters checked at join, the committee's joint key that updates are encrypted
 * under (fetched when a task names a key the learner does not hold), the committees it has seen,
 * and, if the learner has a share directory, its {@link ThresholdMember} side. Models are
 * plaintext: the committee decrypts each round's aggregate and the job serves the result.
 */
public final class ThresholdSession {

    private final HeContext he;
    private final String preset;
    private final int shardSize;
    private final ThresholdInfo info;
    private final ThresholdMember member;
    private final Map<Long, CommitteeView> committees = new HashMap<>();
    private JointKey jointKey;

    private ThresholdSession(
            HeContext he, String preset, int shardSize, ThresholdInfo info, Path shareDir) {
        this.he = he;
        this.preset = preset;
        this.shardSize = shardSize;
        this.info = info;
        this.member = shareDir == null ? null : new ThresholdMember(shareDir, he, preset);
    }

    /** Whether the federation the gateway described at join runs threshold mode. */
    public static boolean isThreshold(Encryption federation) {
        return federation != null && federation.hasThreshold();
    }

    /**
     * The learner's side of the threshold federation its gateway described at join.
     *
     * @param keys the learner's shared-key bundle, or null
     * @param shareDir the learner's share directory, or null
     * @throws IllegalStateException naming what cannot work and the fix
     */
    public static ThresholdSession atJoin(
            KeyBundle keys, Path shareDir, Encryption federation, String gateway) {
        ThresholdInfo t = federation.getThreshold();
        String what =
                "the federation at "
                        + gateway
                        + " aggregates in threshold mode (secure-aggregation: ckks-threshold,"
                        + " backend "
                        + federation.getBackendId()
                        + ", preset "
                        + federation.getPreset()
                        + ", a committee of "
                        + t.getCommitteeSize()
                        + (t.getThreshold() > 0 && t.getThreshold() < t.getCommitteeSize()
                                ? " of whom any " + t.getThreshold() + " decrypt"
                                : ", all of whom must decrypt")
                        + ")";
        if (keys != null) {
            throw new IllegalStateException(
                    what
                            + ", where no party holds the secret key, but this learner was given"
                            + " a shared CKKS key bundle (key "
                            + keys.keyId()
                            + "): it can neither encrypt under the committee's joint key with it"
                            + " nor decrypt anything; join without the key bundle (no --ckks-key"
                            + " / LearnerOptions.keyBundle), and give the learner a share"
                            + " directory (--threshold-shares DIR /"
                            + " LearnerOptions.thresholdShareDir) if it may sit on the committee");
        }
        HeContext he;
        try {
            he = HeBackends.context(federation.getBackendId(), federation.getPreset());
        } catch (RuntimeException e) {
            throw new IllegalStateException(
                    what
                            + ", whose backend or preset this learner does not have ("
                            + e.getMessage()
                            + "): use a learner built with the federation's version of MetisFL",
                    e);
        }
        String hash = HexFormat.of().formatHex(he.parameterHash());
        if (!hash.equals(federation.getParameterHash())) {
            throw new IllegalStateException(
                    what
                            + " with parameter hash "
                            + abbreviate(federation.getParameterHash())
                            + ", but this learner's "
                            + federation.getPreset()
                            + " parameters hash to "
                            + abbreviate(hash)
                            + ": the learner and the job are built from different versions of"
                            + " MetisFL's crypto; use matching versions");
        }
        if (he.threshold().isEmpty()) {
            throw new IllegalStateException(
                    what + " but backend " + he.backendId() + " has no threshold mode here");
        }
        int shardSize = federation.getShardSize();
        if (shardSize <= 0 || shardSize % he.valuesPerCiphertext() != 0) {
            throw new IllegalStateException(
                    what
                            + " but announces a shard size of "
                            + shardSize
                            + " values, which is no positive multiple of the "
                            + he.valuesPerCiphertext()
                            + " values per ciphertext; the gateway and this learner disagree on"
                            + " the protocol");
        }
        return new ThresholdSession(he, federation.getPreset(), shardSize, t, shareDir);
    }

    /**
     * The error for a learner with a share directory that joins a federation that is not in
     * threshold mode (plaintext, or shared-key CKKS), or null if it may go on.
     */
    public static String shareDirMismatch(Path shareDir, Encryption federation, String gateway) {
        if (shareDir == null || isThreshold(federation)) {
            return null;
        }
        return "this learner was given a threshold share directory ("
                + shareDir
                + ") but the federation at "
                + gateway
                + (federation == null
                        ? " aggregates plaintext updates (no secure-aggregation)"
                        : " aggregates with a shared CKKS key (secure-aggregation: ckks): every"
                                + " learner needs the federation's "
                                + KeyBundle.SECRET_FILE
                                + " (--ckks-key / LearnerOptions.keyBundle)")
                + "; drop the share directory (--threshold-shares /"
                + " LearnerOptions.thresholdShareDir), or join the threshold federation it"
                + " belongs to";
    }

    public HeContext context() {
        return he;
    }

    public String preset() {
        return preset;
    }

    public int shardSize() {
        return shardSize;
    }

    public ThresholdInfo info() {
        return info;
    }

    /** t-out-of-n with t < N (Shamir shares), as announced at join. */
    public boolean shamir() {
        return info.getThreshold() > 0 && info.getThreshold() < info.getCommitteeSize();
    }

    /** The learner's committee side, or null without a share directory. */
    public ThresholdMember member() {
        return member;
    }

    /** The joint key the learner holds, or null. */
    public JointKey jointKey() {
        return jointKey;
    }

    /** Whether the learner must fetch the committee to encrypt under key {@code keyId}. */
    public boolean needsKey(String keyId) {
        return jointKey == null || (!keyId.isEmpty() && !keyId.equals(jointKey.keyId()));
    }

    /**
     * Takes the committee's joint key from the gateway's description.
     *
     * @param expectedKeyId the key id a task named, or empty
     * @throws IllegalArgumentException if the description does not fit this federation or that key
     */
    public JointKey useKey(CommitteeInfo c, String expectedKeyId) {
        checkParameters(c);
        JointKey k = new JointKey(he, preset, c.getJointPublicKey().toByteArray(), c.getEpoch());
        if (!k.keyId().equals(c.getKeyId())) {
            throw new IllegalArgumentException(
                    "the committee's joint key has id "
                            + k.keyId()
                            + " but is described as "
                            + c.getKeyId());
        }
        if (!expectedKeyId.isEmpty() && !expectedKeyId.equals(k.keyId())) {
            throw new IllegalArgumentException(
                    "the task names joint key "
                            + expectedKeyId
                            + " but the committee's joint key is "
                            + k.keyId()
                            + " (epoch "
                            + c.getEpoch()
                            + ")");
        }
        jointKey = k;
        return k;
    }

    /** The encryption of this learner's updates under the joint key it holds. */
    public SecureAggregation encryption() {
        return SecureAggregation.threshold(jointKey, shardSize, false);
    }

    /** A committee as members need it: the crypto's view and the gateway's member list. */
    public record CommitteeView(
            Committee committee, int threshold, List<ThresholdMember.Member> members) {}

    /**
     * The committee of a description that includes the members' public shares, rebuilt here from
     * those shares and checked against the description (joint key id, member ids).
     *
     * @throws IllegalArgumentException if the shares do not make the described committee
     */
    public CommitteeView committee(CommitteeInfo c) {
        CommitteeView known = committees.get(c.getEpoch());
        if (known != null
                && HexFormat.of()
                        .formatHex(known.committee().jointKey().keyId())
                        .equals(c.getKeyId())) {
            return known;
        }
        checkParameters(c);
        List<PublicKeyShare> shares = new ArrayList<>();
        List<ThresholdMember.Member> members = new ArrayList<>();
        for (org.metisfl.proto.v1.CommitteeMember m : c.getMembersList()) {
            if (m.getPublicShare().isEmpty()) {
                throw new IllegalArgumentException(
                        "the committee's description lacks member "
                                + m.getLearnerId()
                                + "'s public share");
            }
            shares.add(
                    he.threshold()
                            .orElseThrow()
                            .deserializePublicKeyShare(m.getPublicShare().toByteArray()));
            members.add(
                    new ThresholdMember.Member(
                            m.getLearnerId(),
                            m.getShareId(),
                            m.getTransportPublicKey().toByteArray()));
        }
        Committee committee = he.threshold().orElseThrow().combineKeyShares(shares);
        String keyId = HexFormat.of().formatHex(committee.jointKey().keyId());
        if (!keyId.equals(c.getKeyId())) {
            throw new IllegalArgumentException(
                    "the members' public shares make joint key "
                            + keyId
                            + " but the committee is described with key "
                            + c.getKeyId());
        }
        List<String> ids = members.stream().map(ThresholdMember.Member::shareId).sorted().toList();
        if (!ids.equals(committee.memberIds())) {
            throw new IllegalArgumentException(
                    "the committee's member ids "
                            + ids
                            + " are not its shares' ids "
                            + committee.memberIds());
        }
        CommitteeView view = new CommitteeView(committee, c.getThreshold(), members);
        committees.put(c.getEpoch(), view);
        return view;
    }

    private void checkParameters(CommitteeInfo c) {
        String hash = HexFormat.of().formatHex(he.parameterHash());
        if ((!c.getBackendId().isEmpty() && !c.getBackendId().equals(he.backendId()))
                || (!c.getParameterHash().isEmpty() && !c.getParameterHash().equals(hash))) {
            throw new IllegalArgumentException(
                    "the committee's key is for backend "
                            + c.getBackendId()
                            + " with parameter hash "
                            + abbreviate(c.getParameterHash())
                            + ", not the federation's "
                            + he.backendId()
                            + " "
                            + abbreviate(hash));
        }
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) + "…" : hash;
    }
}
