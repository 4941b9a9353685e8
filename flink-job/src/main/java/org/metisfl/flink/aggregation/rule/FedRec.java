package org.metisfl.flink.aggregation.rule;

import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.metisfl.flink.aggregation.kernel.RecencyAverage;
import org.metisfl.flink.model.Payload;

/**
 * FedRec (MetisFL's federated recency): the shard's model is the running weighted average of every
 * learner's latest update ({@link RecencyAverage}); a learner's newer update replaces its previous
 * one. Weight = the update's weight x s(staleness). A new version per update; memory O(learners x
 * shard), as MetisFL's FedRec.
 */
public final class FedRec implements AsyncAggregationRule<FedAvg.Sum> {
    private static final long serialVersionUID = 1L;

    @Override
    public String name() {
        return "fedrec";
    }

    @Override
    public boolean keepsLatestPerLearner() {
        return true;
    }

    @Override
    public FedAvg.Sum createState() {
        return new FedAvg.Sum();
    }

    @Override
    public TypeSerializer<FedAvg.Sum> stateSerializer() {
        return new FedAvg.SumSerializer();
    }

    @Override
    public List<String> apply(FedAvg.Sum state, AsyncContext model, AsyncUpdate u)
            throws Exception {
        requireAccepted(u.payload());
        float[] values = u.payload().values();
        RecencyAverage avg =
                state.sum == null
                        ? new RecencyAverage(values.length)
                        : RecencyAverage.restore(state.sum, state.totalWeight);
        Latest previous = model.latest(u.learner());
        double weight = u.weight() * u.stalenessWeight();
        if (previous == null) {
            avg.add(values, weight);
        } else {
            avg.replace(previous.payload().values(), previous.weight(), values, weight);
        }
        model.keepLatest(u.learner(), new Latest(u.payload(), weight));
        state.sum = avg.numerator();
        state.totalWeight = avg.totalWeight();
        model.setGlobal(Payload.dense(avg.average()));
        return List.of(u.learner());
    }
}
