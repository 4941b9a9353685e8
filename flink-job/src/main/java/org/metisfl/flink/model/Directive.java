package org.metisfl.flink.model;

import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * What the model sink delivers to the learner gateways: a gateway's announcement (so the sink knows
 * where to deliver), or the coordinator's global model and next round plan.
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
    public String secret;

    // MODEL_SHARD and PUBLISH
    /** Version of the model (the round that produced it, 0 = initial); -1 = none yet. */
    public long modelVersion = -1;

    // MODEL_SHARD
    /** The aggregation shard the values belong to. */
    public int shard;

    /** Index of the first of {@link #values} in the whole model. */
    public int offset;

    public float[] values;

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

    /** Semi-synchronous: local steps per participant (others train by epochs). */
    public java.util.Map<String, Long> localSteps;

    /** Learners that evaluate {@link #modelVersion}. */
    public List<String> evaluators;

    /** Krum: the updates selected for {@link #selectionRound} (0 = none). */
    public List<String> selection;

    public long selectionRound;
    public boolean finished;
    public String finishReason;

    public Directive() {}

    public static Directive announce(GatewayEvent e) {
        Directive d = new Directive();
        d.kind = Kind.ANNOUNCE;
        d.gateway = e.gateway;
        d.host = e.host;
        d.port = e.port;
        d.secret = e.secret;
        return d;
    }

    /** {@code values}, which start at value {@code offset} of the model, of shard {@code shard}. */
    public static Directive modelShard(long modelVersion, int shard, int offset, float[] values) {
        Directive d = new Directive();
        d.kind = Kind.MODEL_SHARD;
        d.modelVersion = modelVersion;
        d.shard = shard;
        d.offset = offset;
        d.values = values;
        return d;
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
                    + (values == null ? 0 : values.length)
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
