package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.aggregation.kernel.WeightedSum;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.serialization.BulkDoubleArraySerializer;

/**
 * FedAvg (McMahan et al. 2017): the weighted mean of the round's updates, folded as they arrive
 * into a double-precision sum ({@link WeightedSum}): memory O(shard) whatever the number of
 * learners. The weights are the gateway's ({@code aggregation.scaling}: examples, batches or
 * participants, see {@link ContributionWeights}).
 */
public final class FedAvg implements AggregationRule<FedAvg.Sum> {
    private static final long serialVersionUID = 1L;

    /** The running weighted sum of a round at a shard and its total weight. */
    public static final class Sum {
        /** Null until the first contribution. */
        double[] sum;

        double totalWeight;

        public Sum() {}

        Sum(double[] sum, double totalWeight) {
            this.sum = sum;
            this.totalWeight = totalWeight;
        }

        public double totalWeight() {
            return totalWeight;
        }
    }

    @Override
    public boolean preAggregates() {
        return true;
    }

    @Override
    public String name() {
        return "fedavg";
    }

    @Override
    public Sum createAccumulator() {
        return new Sum();
    }

    @Override
    public void add(Sum acc, String learner, Payload payload, double weight) {
        requireAccepted(payload);
        float[] values = payload.values();
        if (acc.sum == null) {
            acc.sum = new double[values.length];
        }
        WeightedSum.addScaled(acc.sum, values, weight);
        acc.totalWeight += weight;
    }

    @Override
    public Sum merge(Sum a, Sum b) {
        if (a.sum == null) {
            return b;
        }
        if (b.sum != null) {
            if (a.sum.length != b.sum.length) {
                throw new IllegalArgumentException(
                        "cannot merge sums of "
                                + a.sum.length
                                + " and "
                                + b.sum.length
                                + " values");
            }
            for (int i = 0; i < a.sum.length; i++) {
                a.sum[i] += b.sum[i];
            }
            a.totalWeight += b.totalWeight;
        }
        return a;
    }

    @Override
    public Payload result(Sum acc) {
        if (acc.sum == null) {
            throw new IllegalStateException("FedAvg: no contribution to average");
        }
        return Payload.dense(WeightedSum.mean(acc.sum, acc.totalWeight));
    }

    @Override
    public TypeSerializer<Sum> accumulatorSerializer() {
        return new SumSerializer();
    }

    /** Format 1: has-sum flag, the sum in bulk, the total weight. */
    public static final class SumSerializer extends StateSerializer<Sum> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Sum createInstance() {
            return new Sum();
        }

        @Override
        public Sum copy(Sum from) {
            return new Sum(from.sum == null ? null : from.sum.clone(), from.totalWeight);
        }

        @Override
        protected void write(Sum value, DataOutputView out) throws IOException {
            writeDoubles(value.sum, out);
            out.writeDouble(value.totalWeight);
        }

        @Override
        protected Sum read(int version, DataInputView in) throws IOException {
            double[] sum = readDoubles(in);
            return new Sum(sum, in.readDouble());
        }
    }

    static void writeDoubles(double[] values, DataOutputView out) throws IOException {
        out.writeBoolean(values != null);
        if (values != null) {
            BulkDoubleArraySerializer.INSTANCE.serialize(values, out);
        }
    }

    static double[] readDoubles(DataInputView in) throws IOException {
        return in.readBoolean() ? BulkDoubleArraySerializer.INSTANCE.deserialize(in) : null;
    }
}
