package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.metisfl.flink.aggregation.kernel.WeightedSum;
import org.metisfl.flink.model.Payload;

/**
 * FedStride (MetisFL): the weighted mean folded block by block, {@code aggregation.stride-length}
 * learners at a time, so only one block of updates is held besides the sum. Folding adds in arrival
 * order, so the result is FedAvg's (as {@link
 * org.metisfl.flink.aggregation.kernel.StridedAverage}).
 */
public final class FedStride implements AggregationRule<FedStride.Strides> {
    private static final long serialVersionUID = 1L;

    private final int strideLength;

    /** The folded sum, its weight, and the block not yet folded. */
    public static final class Strides {
        double[] sum;
        double totalWeight;
        final Updates block;

        public Strides() {
            this(null, 0, new Updates());
        }

        Strides(double[] sum, double totalWeight, Updates block) {
            this.sum = sum;
            this.totalWeight = totalWeight;
            this.block = block;
        }

        /** Updates held but not yet folded. */
        public int buffered() {
            return block.size();
        }
    }

    /**
     * @param strideLength learners per block, {@code >= 1}
     */
    public FedStride(int strideLength) {
        if (strideLength < 1) {
            throw new IllegalArgumentException(
                    "aggregation.stride-length must be >= 1, was " + strideLength);
        }
        this.strideLength = strideLength;
    }

    @Override
    public boolean preAggregates() {
        return true;
    }

    @Override
    public String name() {
        return "fedstride";
    }

    @Override
    public Strides createAccumulator() {
        return new Strides();
    }

    @Override
    public void add(Strides acc, String learner, Payload payload, double weight) {
        requireAccepted(payload);
        acc.block.add(learner, payload, weight);
        if (acc.block.size() >= strideLength) {
            fold(acc);
        }
    }

    @Override
    public Strides merge(Strides a, Strides b) {
        fold(a);
        fold(b);
        if (a.sum == null) {
            return b;
        }
        if (b.sum != null) {
            for (int i = 0; i < a.sum.length; i++) {
                a.sum[i] += b.sum[i];
            }
            a.totalWeight += b.totalWeight;
        }
        return a;
    }

    @Override
    public Payload result(Strides acc) {
        fold(acc);
        if (acc.sum == null) {
            throw new IllegalStateException("FedStride: no contribution to average");
        }
        return Payload.dense(WeightedSum.mean(acc.sum, acc.totalWeight));
    }

    private static void fold(Strides acc) {
        for (int i = 0; i < acc.block.size(); i++) {
            float[] values = acc.block.payloads.get(i).values();
            if (acc.sum == null) {
                acc.sum = new double[values.length];
            }
            double w = acc.block.weights.get(i);
            WeightedSum.addScaled(acc.sum, values, w);
            acc.totalWeight += w;
        }
        acc.block.clear();
    }

    @Override
    public TypeSerializer<Strides> accumulatorSerializer() {
        return new StridesSerializer();
    }

    /** Format 1: the sum as FedAvg's, its weight, then the block as {@link Updates}. */
    public static final class StridesSerializer extends StateSerializer<Strides> {
        private static final long serialVersionUID = 1L;
        private static final Updates.Serializer BLOCK = new Updates.Serializer();

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Strides createInstance() {
            return new Strides();
        }

        @Override
        public Strides copy(Strides from) {
            return new Strides(
                    from.sum == null ? null : from.sum.clone(),
                    from.totalWeight,
                    from.block.deepCopy());
        }

        @Override
        protected void write(Strides value, DataOutputView out) throws IOException {
            FedAvg.writeDoubles(value.sum, out);
            out.writeDouble(value.totalWeight);
            BLOCK.serialize(value.block, out);
        }

        @Override
        protected Strides read(int version, DataInputView in) throws IOException {
            double[] sum = FedAvg.readDoubles(in);
            double weight = in.readDouble();
            return new Strides(sum, weight, BLOCK.deserialize(in));
        }
    }
}
