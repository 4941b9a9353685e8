package org.metisfl.flink.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.ThresholdShards;
import org.metisfl.flink.config.ThresholdOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.ThresholdRecords;
import org.metisfl.proto.v1.CommitteeInfo;
import org.metisfl.proto.v1.CommitteeMember;
import org.metisfl.proto.v1.DealTask;
import org.metisfl.proto.v1.DealingsSubmission;
import org.metisfl.proto.v1.KeyShareSubmission;
import org.metisfl.proto.v1.KeyShareTask;
import org.metisfl.proto.v1.PartialDecryptTask;
import org.metisfl.proto.v1.ThresholdDirective;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Threshold mode in the coordinator, without Flink: the keying phase before the first round (draw
 * the committee, gather its public key shares, combine the joint key; with t &lt; N gather the
 * members' sealed Shamir dealings) and the decryption of each round's encrypted aggregate (ask an
 * answering set of members for partial decryptions, combine them into the plaintext global model,
 * ask another set when a member stays silent). What it keeps is {@link ThresholdProgress}: public
 * shares, the joint key, sealed dealings and partial decryptions, never a secret share; the
 * combination reveals the round's global model to the job and nothing else (see
 * docs/explanation/secure-aggregation.md).
 */
final class ThresholdPhase {
    private static final Logger LOG = LoggerFactory.getLogger(ThresholdPhase.class);

    /** What a decryption's news did. */
    enum Outcome {
        NOTHING,
        /** The aggregate is decrypted: the pending model holds its plaintext shards. */
        DECRYPTED,
        /** Fewer than t members can answer: the federation cannot decrypt. */
        FAILED
    }

    private final ThresholdOptions options;
    private final StateMap<Integer, Payload> pendingModel;
    private transient Committee committee;
    private transient String committeeOf;

    ThresholdPhase(ThresholdOptions options, StateMap<Integer, Payload> pendingModel) {
        this.options = options;
        this.pendingModel = pendingModel;
    }

    private HeContext he() {
        return HeContexts.of(options.backend(), options.preset());
    }

    private ThresholdHe th() {
        return he().threshold().orElseThrow();
    }

    static ThresholdProgress of(FederationProgress p) {
        if (p.threshold == null) {
            p.threshold = new ThresholdProgress();
        }
        return p.threshold;
    }

    /** True once rounds may run (the joint key exists; t &lt; N: every dealing is in). */
    boolean ready(FederationProgress p) {
        return p.threshold != null && p.threshold.ready;
    }

    /**
     * Starts the keying when no committee is being keyed and at least N learners are active: N of
     * them, drawn with a seed kept in the state, get a KeyShareTask. Returns true if it started.
     */
    boolean maybeStartKeying(FederationProgress p, List<String> active) {
        ThresholdProgress t = of(p);
        if (t.ready || (t.epoch > 0 && p.phase == Phase.KEYING)) {
            return false;
        }
        if (active.size() < options.committeeSize()) {
            LOG.info(
                    "Threshold mode: {} active learners, the committee needs {}; waiting",
                    active.size(),
                    options.committeeSize());
            return false;
        }
        t.epoch++;
        t.seed = th().newCommonSeed();
        List<String> candidates = new ArrayList<>(active);
        Collections.sort(candidates);
        Collections.shuffle(candidates, new Random(ByteBuffer.wrap(t.seed).getLong()));
        t.members = new ArrayList<>(candidates.subList(0, options.committeeSize()));
        t.shares = new java.util.HashMap<>();
        t.dealings = new java.util.HashMap<>();
        t.jointKey = null;
        t.keyId = null;
        p.phase = Phase.KEYING;
        LOG.info(
                "Threshold mode: committee of key epoch {} drawn: {} ({} of {} decrypt)",
                t.epoch,
                t.members,
                options.threshold(),
                options.committeeSize());
        return true;
    }

    /**
     * A member's key share, checked by the gateway. Returns true when it completes the keying
     * (rounds may start).
     */
    boolean onKeyShare(GatewayEvent e, FederationProgress p) {
        ThresholdProgress t = of(p);
        if (p.phase != Phase.KEYING
                || e.round() != t.epoch
                || t.jointKey != null
                || !t.members.contains(e.learnerId())
                || t.shares.containsKey(e.learnerId())) {
            return false;
        }
        t.shares.put(e.learnerId(), e.partial());
        LOG.info(
                "Threshold mode: key share of {} in ({} of {})",
                e.learnerId(),
                t.shares.size(),
                t.members.size());
        if (t.shares.size() < t.members.size()) {
            return false;
        }
        Committee c = committee(t);
        t.jointKey = he().serialize(c.jointKey());
        t.keyId = HexFormat.of().formatHex(c.jointKey().keyId());
        LOG.info("Threshold mode: joint key {} of key epoch {} made", t.keyId, t.epoch);
        if (!options.shamir()) {
            t.ready = true;
        }
        return t.ready;
    }

    /** A member's sealed dealings (t &lt; N). Returns true when they complete the keying. */
    boolean onDealings(GatewayEvent e, FederationProgress p) {
        ThresholdProgress t = of(p);
        if (p.phase != Phase.KEYING
                || t.jointKey == null
                || t.ready
                || e.round() != t.epoch
                || !t.members.contains(e.learnerId())
                || t.dealings.containsKey(e.learnerId())) {
            return false;
        }
        t.dealings.put(e.learnerId(), e.partial());
        LOG.info(
                "Threshold mode: dealings of {} in ({} of {})",
                e.learnerId(),
                t.dealings.size(),
                t.members.size());
        if (t.dealings.size() == t.members.size()) {
            t.ready = true;
        }
        return t.ready;
    }

    /**
     * Round {@code round} closed with the encrypted aggregate in the pending model: asks the first
     * answering set for partial decryptions.
     */
    void startDecryption(
            FederationProgress p,
            long round,
            long nowMs,
            CoordinatorOutput out,
            LearnerRegistry learners) {
        ThresholdProgress t = of(p);
        t.decryptRound = round;
        t.attempt = 0;
        t.silent = new ArrayList<>();
        p.phase = Phase.DECRYPTING;
        nextAttempt(p, nowMs, out, learners);
    }

    /**
     * Opens the next attempt with t members that did not fail an earlier one (those active first);
     * returns false if fewer than t are left.
     */
    private boolean nextAttempt(
            FederationProgress p, long nowMs, CoordinatorOutput out, LearnerRegistry learners) {
        ThresholdProgress t = of(p);
        List<String> candidates = new ArrayList<>();
        for (String m : t.members) {
            if (!t.silent.contains(m)) {
                candidates.add(m);
            }
        }
        if (candidates.size() < options.threshold()) {
            return false;
        }
        if (learners != null) {
            candidates.sort(
                    Comparator.comparing(
                            m -> {
                                LearnerRecord r = learners.get(m);
                                return r == null || !r.active;
                            }));
        }
        t.attempt++;
        t.answering = new ArrayList<>(candidates.subList(0, options.threshold()));
        t.partials = new java.util.HashMap<>();
        t.attemptDeadline = nowMs + options.decryptionTimeoutMs();
        out.timerAt(t.attemptDeadline);
        LOG.info(
                "Threshold mode: round {} decryption attempt {} asks {}",
                t.decryptRound,
                t.attempt,
                t.answering);
        return true;
    }

    /** A member's partial decryptions, checked by the gateway. */
    Outcome onPartial(GatewayEvent e, FederationProgress p, int numShards) {
        ThresholdProgress t = of(p);
        if (p.phase != Phase.DECRYPTING
                || e.round() != t.decryptRound
                || e.shard() != t.attempt
                || !t.answering.contains(e.learnerId())
                || t.partials.containsKey(e.learnerId())) {
            return Outcome.NOTHING;
        }
        t.partials.put(e.learnerId(), e.partial());
        if (t.partials.size() < t.answering.size()) {
            return Outcome.NOTHING;
        }
        return combine(p, numShards);
    }

    private Outcome combine(FederationProgress p, int numShards) {
        ThresholdProgress t = of(p);
        ThresholdShards ts = ThresholdShards.of(he());
        Committee c = committee(t);
        List<List<byte[]>> parts = new ArrayList<>();
        for (String m : t.answering) {
            parts.add(ThresholdRecords.unpack(t.partials.get(m)));
        }
        List<Payload> plain = new ArrayList<>(numShards);
        try {
            for (int s = 0; s < numShards; s++) {
                byte[] shard = pendingModel.get(s).ciphertext();
                List<byte[]> ofShard = new ArrayList<>(parts.size());
                for (List<byte[]> m : parts) {
                    ofShard.add(m.get(s));
                }
                float[] values =
                        options.shamir()
                                ? ts.combineShard(c, options.threshold(), shard, ofShard)
                                : ts.combineShard(c, shard, ofShard);
                plain.add(Payload.dense(values));
            }
        } catch (RuntimeException ex) {
            // The gateways check each member's partial decryptions against the aggregate; what
            // passes them and still does not combine was made for another ciphertext (a member
            // lying about it). Which member cannot be told: this attempt's set is left out.
            LOG.error(
                    "Threshold mode: round {} attempt {}: the partial decryptions of {} do not"
                            + " combine: {}",
                    t.decryptRound,
                    t.attempt,
                    t.answering,
                    ex.toString());
            t.silent.addAll(t.answering);
            return Outcome.FAILED;
        }
        for (int s = 0; s < numShards; s++) {
            pendingModel.put(s, plain.get(s));
        }
        LOG.info(
                "Threshold mode: round {} decrypted from the partial decryptions of {} (attempt"
                        + " {})",
                t.decryptRound,
                t.answering,
                t.attempt);
        t.decryptRound = 0;
        t.attemptDeadline = 0;
        t.answering = new ArrayList<>();
        t.partials = new java.util.HashMap<>();
        t.silent = new ArrayList<>();
        return Outcome.DECRYPTED;
    }

    /**
     * The attempt's deadline: the members that have not answered are silent; another set of t
     * members is asked, or the decryption fails when fewer than t are left.
     */
    Outcome onTimer(
            FederationProgress p, long nowMs, CoordinatorOutput out, LearnerRegistry learners) {
        ThresholdProgress t = p.threshold;
        if (t == null
                || p.phase != Phase.DECRYPTING
                || t.attemptDeadline == 0
                || nowMs < t.attemptDeadline) {
            return Outcome.NOTHING;
        }
        List<String> quiet = new ArrayList<>();
        for (String m : t.answering) {
            if (!t.partials.containsKey(m)) {
                quiet.add(m);
            }
        }
        t.silent.addAll(quiet);
        LOG.warn(
                "Threshold mode: round {} attempt {}: {} did not answer within {} ms",
                t.decryptRound,
                t.attempt,
                quiet,
                options.decryptionTimeoutMs());
        if (nextAttempt(p, nowMs, out, learners)) {
            return Outcome.NOTHING; // the caller publishes the new attempt
        }
        t.attemptDeadline = 0;
        return Outcome.FAILED;
    }

    /** After a restart: the attempt in progress gets a fresh deadline (its tasks go out again). */
    void onRestart(FederationProgress p, long nowMs, CoordinatorOutput out) {
        ThresholdProgress t = p.threshold;
        if (t != null && p.phase == Phase.DECRYPTING && t.attemptDeadline > 0) {
            t.attemptDeadline = nowMs + options.decryptionTimeoutMs();
            out.timerAt(t.attemptDeadline);
        }
    }

    /** Why the decryption failed, for the federation's end. */
    String failureReason(FederationProgress p) {
        ThresholdProgress t = of(p);
        return "threshold decryption of round "
                + t.decryptRound
                + " failed: members "
                + t.silent
                + " did not answer (or their partial decryptions did not combine) and fewer than "
                + options.threshold()
                + " of the committee "
                + t.members
                + " are left (secure-aggregation.committee.threshold); re-keying is not"
                + " implemented";
    }

    /** The gateways' threshold state now (a serialized ThresholdDirective), or null if none. */
    byte[] directive(FederationProgress p) {
        ThresholdProgress t = p.threshold;
        if (t == null || t.epoch == 0) {
            return null;
        }
        ThresholdDirective.Builder d = ThresholdDirective.newBuilder();
        if (t.jointKey == null) {
            d.setKeying(
                    KeyShareTask.newBuilder()
                            .setEpoch(t.epoch)
                            .setCommonSeed(ByteString.copyFrom(t.seed))
                            .addAllMembers(t.members)
                            .setThreshold(options.threshold()));
            d.addAllSharesIn(sorted(t.shares.keySet()));
            return d.build().toByteArray();
        }
        d.setCommittee(committeeInfo(t));
        if (options.shamir() && !t.ready) {
            d.setDeal(DealTask.newBuilder().setEpoch(t.epoch).setThreshold(options.threshold()));
            d.addAllDealingsIn(sorted(t.dealings.keySet()));
        }
        if (options.shamir() && t.ready) {
            for (String m : sorted(t.dealings.keySet())) {
                try {
                    d.addAllDealings(
                            DealingsSubmission.parseFrom(t.dealings.get(m)).getDealingsList());
                } catch (InvalidProtocolBufferException ex) {
                    throw new IllegalStateException("dealings of " + m + " in the state", ex);
                }
            }
        }
        if (p.phase == Phase.DECRYPTING && t.decryptRound > 0) {
            Map<String, String> shareIds = shareIds(t);
            PartialDecryptTask.Builder task =
                    PartialDecryptTask.newBuilder()
                            .setEpoch(t.epoch)
                            .setRound(t.decryptRound)
                            .setAttempt(t.attempt);
            for (String m : t.answering) {
                task.addAnswering(shareIds.get(m));
            }
            d.setDecrypt(task).addAllAnsweringLearners(t.answering);
            d.addAllDecryptedBy(sorted(t.partials.keySet()));
            for (int s = 0; s < p.numShards; s++) {
                d.addAggregate(ByteString.copyFrom(pendingModel.get(s).ciphertext()));
            }
        }
        return d.build().toByteArray();
    }

    private static List<String> sorted(java.util.Collection<String> c) {
        List<String> l = new ArrayList<>(c);
        Collections.sort(l);
        return l;
    }

    private CommitteeInfo committeeInfo(ThresholdProgress t) {
        HeContext he = he();
        List<CommitteeMember> members = new ArrayList<>();
        Map<String, String> ids = shareIds(t);
        for (String m : t.members) {
            KeyShareSubmission s = submission(t, m);
            members.add(
                    CommitteeMember.newBuilder()
                            .setLearnerId(m)
                            .setShareId(ids.get(m))
                            .setPublicShare(s.getPublicShare())
                            .setTransportPublicKey(s.getTransportPublicKey())
                            .build());
        }
        members.sort(Comparator.comparing(CommitteeMember::getShareId));
        return CommitteeInfo.newBuilder()
                .setEpoch(t.epoch)
                .setKeyId(t.keyId)
                .setJointPublicKey(ByteString.copyFrom(t.jointKey))
                .setThreshold(options.threshold())
                .addAllMembers(members)
                .setBackendId(he.backendId())
                .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                .setPreset(options.preset())
                .build();
    }

    private static KeyShareSubmission submission(ThresholdProgress t, String member) {
        try {
            return KeyShareSubmission.parseFrom(t.shares.get(member));
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("key share of " + member + " in the state", e);
        }
    }

    private PublicKeyShare publicShare(ThresholdProgress t, String member) {
        return th().deserializePublicKeyShare(submission(t, member).getPublicShare().toByteArray());
    }

    private Map<String, String> shareIds(ThresholdProgress t) {
        Map<String, String> ids = new java.util.HashMap<>();
        for (String m : t.members) {
            ids.put(m, ThresholdShards.memberId(publicShare(t, m)));
        }
        return ids;
    }

    /** The committee of the epoch's shares (kept on the heap, rebuilt after a restore). */
    private Committee committee(ThresholdProgress t) {
        String of = t.epoch + "/" + t.members;
        if (committee == null || !of.equals(committeeOf)) {
            List<PublicKeyShare> shares = new ArrayList<>();
            for (String m : t.members) {
                shares.add(publicShare(t, m));
            }
            committee = th().combineKeyShares(shares);
            committeeOf = of;
        }
        return committee;
    }
}
