package org.metisfl.flink.model;

import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * What the model sink delivers to the learner gateways: a gateway's announcement (so the sink knows
 * where to deliver), or the coordinator's new global model and next round plan.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class Directive {

    /** Which of the two. */
    public enum Kind {
        ANNOUNCE,
        PUBLISH
    }

    public Kind kind;

    // ANNOUNCE
    public int gateway;
    public String host;
    public int port;
    public String secret;

    // PUBLISH
    /** Version of the model carried (the round that produced it, 0 = initial); -1 = none yet. */
    public long modelVersion = -1;

    public List<TensorSpecInfo> tensors;

    /** The whole model, or null if the directive carries none. */
    public float[] model;

    public int numShards;
    public int shardSize;

    /** Round to train next; 0 = none. */
    public long planRound;

    public List<String> participants;
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

    @Override
    public String toString() {
        return kind == Kind.ANNOUNCE
                ? "Directive{announce gateway " + gateway + " at " + host + ":" + port + "}"
                : "Directive{model v"
                        + modelVersion
                        + ", plan round "
                        + planRound
                        + ", evaluators "
                        + (evaluators == null ? 0 : evaluators.size())
                        + (finished ? ", finished" : "")
                        + "}";
    }
}
