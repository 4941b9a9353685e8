package org.metisfl.flink.model;

import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * What the model sink delivers to the learner gateways: a gateway's announcement (so the sink knows
 * where to deliver), or the coordinator's global model and next round plan. Built with the factory
 * of its kind ({@link #announce}, {@link #modelShard}, {@link #publish} and its {@code with...}
 * steps) and read through accessors that check the kind; the public fields are for Flink's POJO
 * serializer.
 *
 * <p>The coordinator never sends the model as one record (a large record is spilled to disk and
 * read back value by value on its way between tasks): it sends the model's values as {@link
 * Kind#MODEL_SHARD} directives of at most {@link #MAX_SHARD_VALUES} values, in order, right before
 * the {@link Kind#PUBLISH} directive that names their version and total count. The channel from the
 * coordinator to the sink keeps that order.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class Directive {

    /** Which of the three. */
    public enum Kind {
        ANNOUNCE,
        /** A consecutive slice of the values of model {@link #modelVersion}. */
        MODEL_SHARD,
        PUBLISH
    }

    /** The most values one MODEL_SHARD carries (1 MiB of float32, far below a spilling record). */
    public static final int MAX_SHARD_VALUES = 1 << 18;

    public Kind kind;

    // ANNOUNCE
    public int gateway;
    public String host;
    public int port;

    /** The gateway's control credential (derived from the federation secret, never it). */
    public String secret;

    /** SHA-256 of the gateway's control certificate, pinned by the sink. */
    public String controlFingerprint;

    // MODEL_SHARD and PUBLISH
    /** Version of the model (the round that produced it, 0 = initial); -1 = none yet. */
    public long modelVersion = -1;

    // MODEL_SHARD
    /** The aggregation shard the values belong to. */
    public int shard;

    /** Index of the first of {@link #values} in the whole model. */
    public int offset;

    public Payload values;

    // PUBLISH
    public List<TensorSpecInfo> tensors;

    /**
     * Number of values of model {@link #modelVersion}, sent just before as MODEL_SHARD directives;
     * 0 if the directive carries no model.
     */
    public long modelValues;

    public int numShards;
    public int shardSize;

    /** Round to train next; 0 = none. */
    public long planRound;

    public List<String> participants;

    /** Participants of {@link #planRound} dropped from it (gone past the grace period). */
    public List<String> dropped;

    public int quorum;
    public long deadline;

    /** Central DP: the round's clip norm (adaptive clipping moves it); 0 without central DP. */
    public double clipNorm;

    /** Semi-synchronous: local steps per participant (others train by epochs). */
    public java.util.Map<String, Long> localSteps;

    /** Learners that evaluate {@link #modelVersion}. */
    public List<String> evaluators;

    /** Krum: the updates selected for {@link #selectionRound} (0 = none). */
    public List<String> selection;

    public long selectionRound;

    /** The learners whose updates counted in {@link #countedRound} (0 = none), a closed round. */
    public List<String> counted;

    public long countedRound;

    public boolean finished;
    public String finishReason;

    /**
     * The model path (PUBLISH): model {@link #modelVersion}'s values reach the gateways as
     * MODEL_SHARD directives from the shard aggregators' sinks, not from the coordinator; the
     * gateways apply this directive once they hold every shard of it.
     */
    public boolean modelInShards;

    /**
     * Threshold mode: the gateways' threshold state (a serialized {@code ThresholdDirective}:
     * keying, committee, dealings, the decryption in progress with its aggregate); null otherwise.
     */
    public byte[] threshold;

    public Directive() {}

    public static Directive announce(GatewayEvent e) {
        Directive d = new Directive();
        d.kind = Kind.ANNOUNCE;
        d.gateway = e.gateway();
        d.host = e.host();
        d.port = e.port();
        d.secret = e.secret();
        d.controlFingerprint = e.controlFingerprint;
        return d;
    }

    /** {@code values}, which start at value {@code offset} of the model, of shard {@code shard}. */
    public static Directive modelShard(long modelVersion, int shard, int offset, Payload values) {
        Directive d = new Directive();
        d.kind = Kind.MODEL_SHARD;
        d.modelVersion = modelVersion;
        d.shard = shard;
        d.offset = offset;
        d.values = values;
        return d;
    }

    /** A MODEL_SHARD of dense values. */
    public static Directive modelShard(long modelVersion, int shard, int offset, float[] values) {
        return modelShard(modelVersion, shard, offset, Payload.dense(values));
    }

    /**
     * A PUBLISH of model {@code modelVersion} (-1: none yet) whose {@code modelValues} values were
     * sent just before as MODEL_SHARD directives; add the plan, evaluators, selection and end with
     * the {@code with...} steps.
     */
    public static Directive publish(
            long modelVersion,
            List<TensorSpecInfo> tensors,
            int numShards,
            int shardSize,
            long modelValues) {
        Directive d = new Directive();
        d.kind = Kind.PUBLISH;
        d.modelVersion = modelVersion;
        d.tensors = copy(tensors);
        d.numShards = numShards;
        d.shardSize = shardSize;
        d.modelValues = modelValues;
        return d;
    }

    /** The next round's plan (PUBLISH). */
    public Directive withPlan(
            long planRound,
            List<String> participants,
            List<String> dropped,
            int quorum,
            long deadline,
            java.util.Map<String, Long> localSteps) {
        requirePublish();
        this.planRound = planRound;
        this.participants = copy(participants);
        this.dropped = copy(dropped);
        this.quorum = quorum;
        this.deadline = deadline;
        this.localSteps = localSteps == null ? null : new java.util.HashMap<>(localSteps);
        return this;
    }

    /** Central DP: the planned round's clip norm (PUBLISH with a plan). */
    public Directive withClipNorm(double clipNorm) {
        requirePublish();
        this.clipNorm = clipNorm;
        return this;
    }

    /** Learners that evaluate the model (PUBLISH). */
    public Directive withEvaluators(List<String> evaluators) {
        requirePublish();
        this.evaluators = copy(evaluators);
        return this;
    }

    /** The updates selected for {@code selectionRound} (PUBLISH; 0 = none). */
    public Directive withSelection(long selectionRound, List<String> selection) {
        requirePublish();
        this.selectionRound = selectionRound;
        this.selection = copy(selection);
        return this;
    }

    /** The learners whose updates counted in round {@code countedRound}, closed (PUBLISH). */
    public Directive withCounted(long countedRound, List<String> counted) {
        requirePublish();
        this.countedRound = countedRound;
        this.counted = counted;
        return this;
    }

    /** Threshold mode: the gateways' threshold state, a serialized ThresholdDirective (PUBLISH). */
    public Directive withThreshold(byte[] threshold) {
        requirePublish();
        this.threshold = threshold;
        return this;
    }

    /** The model's values come from the shard aggregators, shard by shard (PUBLISH). */
    public Directive withModelInShards(boolean modelInShards) {
        requirePublish();
        this.modelInShards = modelInShards;
        return this;
    }

    /** Whether the federation finished, and why (PUBLISH). */
    public Directive withEnd(boolean finished, String finishReason) {
        requirePublish();
        this.finished = finished;
        this.finishReason = finishReason;
        return this;
    }

    /**
     * A directive owns its collections: the model sink is chained to the coordinator (with object
     * reuse), so it must not see the coordinator's live lists change after the directive left.
     */
    private static <T> List<T> copy(List<T> list) {
        return list == null ? null : new java.util.ArrayList<>(list);
    }

    private void requirePublish() {
        if (kind != Kind.PUBLISH) {
            throw new IllegalStateException("a " + kind + " directive has no plan");
        }
    }

    private void require(String field, Kind a, Kind b) {
        if (kind != a && kind != b) {
            throw new IllegalStateException("a " + kind + " directive has no " + field);
        }
    }

    // Accessors: each checks that the field belongs to the directive's kind.

    public Kind kind() {
        return kind;
    }

    /** The model slice's values (MODEL_SHARD). */
    public Payload values() {
        require("values", Kind.MODEL_SHARD, Kind.MODEL_SHARD);
        return values;
    }

    public long modelVersion() {
        require("modelVersion", Kind.MODEL_SHARD, Kind.PUBLISH);
        return modelVersion;
    }

    public int shard() {
        require("shard", Kind.MODEL_SHARD, Kind.MODEL_SHARD);
        return shard;
    }

    public int offset() {
        require("offset", Kind.MODEL_SHARD, Kind.MODEL_SHARD);
        return offset;
    }

    public int gateway() {
        require("gateway", Kind.ANNOUNCE, Kind.ANNOUNCE);
        return gateway;
    }

    public String host() {
        require("host", Kind.ANNOUNCE, Kind.ANNOUNCE);
        return host;
    }

    public int port() {
        require("port", Kind.ANNOUNCE, Kind.ANNOUNCE);
        return port;
    }

    public String secret() {
        require("secret", Kind.ANNOUNCE, Kind.ANNOUNCE);
        return secret;
    }

    public List<TensorSpecInfo> tensors() {
        require("tensors", Kind.PUBLISH, Kind.PUBLISH);
        return tensors;
    }

    public long modelValues() {
        require("modelValues", Kind.PUBLISH, Kind.PUBLISH);
        return modelValues;
    }

    public int numShards() {
        require("numShards", Kind.PUBLISH, Kind.PUBLISH);
        return numShards;
    }

    public int shardSize() {
        require("shardSize", Kind.PUBLISH, Kind.PUBLISH);
        return shardSize;
    }

    public long planRound() {
        require("planRound", Kind.PUBLISH, Kind.PUBLISH);
        return planRound;
    }

    public List<String> participants() {
        require("participants", Kind.PUBLISH, Kind.PUBLISH);
        return participants;
    }

    /** Participants of the plan's round dropped from it (PUBLISH). */
    public List<String> dropped() {
        require("dropped", Kind.PUBLISH, Kind.PUBLISH);
        return dropped;
    }

    public int quorum() {
        require("quorum", Kind.PUBLISH, Kind.PUBLISH);
        return quorum;
    }

    public long deadline() {
        require("deadline", Kind.PUBLISH, Kind.PUBLISH);
        return deadline;
    }

    public java.util.Map<String, Long> localSteps() {
        require("localSteps", Kind.PUBLISH, Kind.PUBLISH);
        return localSteps;
    }

    public List<String> evaluators() {
        require("evaluators", Kind.PUBLISH, Kind.PUBLISH);
        return evaluators;
    }

    public List<String> selection() {
        require("selection", Kind.PUBLISH, Kind.PUBLISH);
        return selection;
    }

    public long selectionRound() {
        require("selectionRound", Kind.PUBLISH, Kind.PUBLISH);
        return selectionRound;
    }

    public boolean finished() {
        require("finished", Kind.PUBLISH, Kind.PUBLISH);
        return finished;
    }

    public String finishReason() {
        require("finishReason", Kind.PUBLISH, Kind.PUBLISH);
        return finishReason;
    }

    @Override
    public String toString() {
        if (kind == Kind.ANNOUNCE) {
            return "Directive{announce gateway " + gateway + " at " + host + ":" + port + "}";
        }
        if (kind == Kind.MODEL_SHARD) {
            return "Directive{model v"
                    + modelVersion
                    + " shard "
                    + shard
                    + ", values "
                    + offset
                    + "+"
                    + (values == null ? 0 : values.size())
                    + "}";
        }
        return "Directive{model v"
                + modelVersion
                + ", plan round "
                + planRound
                + ", evaluators "
                + (evaluators == null ? 0 : evaluators.size())
                + (finished ? ", finished" : "")
                + "}";
    }
}
