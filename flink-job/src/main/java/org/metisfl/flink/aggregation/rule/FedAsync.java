package org.metisfl.flink.aggregation.rule;

import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.VoidSerializer;
import org.metisfl.flink.aggregation.kernel.FedAsyncMix;

/**
 * FedAsync (Xie, Koyejo, Gupta 2019): every update is mixed into the shard's model at once, with
 * weight alpha x s(staleness) ({@link FedAsyncMix}); a new version per update, memory O(shard).
 */
public final class FedAsync implements AsyncAggregationRule<Void> {
    private static final long serialVersionUID = 1L;

    private final double alpha;

    /**
     * @param alpha the mixing weight of a fresh update, in (0, 1]
     */
    public FedAsync(double alpha) {
        if (!(alpha > 0 && alpha <= 1)) {
            throw new IllegalArgumentException("async.alpha must be in (0, 1], was " + alpha);
        }
        this.alpha = alpha;
    }

    @Override
    public String name() {
        return "fedasync";
    }

    @Override
    public Void createState() {
        return null;
    }

    @Override
    public TypeSerializer<Void> stateSerializer() {
        return VoidSerializer.INSTANCE;
    }

    @Override
    public List<String> apply(Void state, AsyncContext model, AsyncUpdate u) {
        requireAccepted(u.payload());
        FedAsyncMix.mix(model.global().values(), u.payload().values(), alpha * u.stalenessWeight());
        return List.of(u.learner());
    }
}
