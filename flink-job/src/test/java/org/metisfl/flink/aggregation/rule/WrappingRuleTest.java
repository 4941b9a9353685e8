package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Payload;

/**
 * A wrapper as central DP would be one: it clips each contribution to an L2 bound before the inner
 * rule adds it, counts the clipped ones in its own state, and shifts the result (a stand-in for
 * noise).
 */
class WrappingRuleTest {

    /** The wrapper's own state: how many contributions it clipped. */
    static final class Clipped {
        int count;
    }

    static final class ClippedSerializer extends StateSerializer<Clipped> {
        private static final long serialVersionUID = 1L;

        @Override
        protected int currentVersion() {
            return 1;
        }

        @Override
        public Clipped createInstance() {
            return new Clipped();
        }

        @Override
        public Clipped copy(Clipped from) {
            Clipped c = new Clipped();
            c.count = from.count;
            return c;
        }

        @Override
        protected void write(Clipped value, DataOutputView out) throws IOException {
            out.writeInt(value.count);
        }

        @Override
        protected Clipped read(int version, DataInputView in) throws IOException {
            Clipped c = new Clipped();
            c.count = in.readInt();
            return c;
        }
    }

    static final class ClipAndShift<A> extends WrappingRule<Clipped, A> {
        private static final long serialVersionUID = 1L;
        private final double bound;
        private final float shift;

        ClipAndShift(AggregationRule<A> inner, double bound, float shift) {
            super(inner);
            this.bound = bound;
            this.shift = shift;
        }

        @Override
        protected String wrapperName() {
            return "clip";
        }

        @Override
        protected Clipped createState() {
            return new Clipped();
        }

        @Override
        protected Clipped mergeState(Clipped a, Clipped b) {
            a.count += b.count;
            return a;
        }

        @Override
        protected TypeSerializer<Clipped> stateSerializer() {
            return new ClippedSerializer();
        }

        @Override
        protected Contribution onContribution(Clipped state, A inner, Contribution c) {
            float[] v = c.payload().values();
            double norm = 0;
            for (float x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            if (norm <= bound) {
                return c;
            }
            state.count++;
            float[] clipped = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                clipped[i] = (float) (v[i] * bound / norm);
            }
            return new Contribution(c.learner(), Payload.dense(clipped), c.weight());
        }

        @Override
        protected Payload onResult(Clipped state, A inner, Payload result) {
            float[] v = result.values().clone();
            for (int i = 0; i < v.length; i++) {
                v[i] += shift;
            }
            return Payload.dense(v);
        }
    }

    @Test
    void hooksSeeEveryContributionAndTheResultAroundTheInnerRule() throws Exception {
        ClipAndShift<FedAvg.Sum> rule = new ClipAndShift<>(new FedAvg(), 1.0, 10f);
        assertThat(rule.name()).isEqualTo("clip(fedavg)");
        var acc = rule.createAccumulator();
        float[] big = {3, 4}; // norm 5: clipped to {0.6, 0.8}
        float[] small = {0.1f, 0.2f};
        rule.add(acc, "a", Payload.dense(big), 1);
        var other = rule.createAccumulator();
        rule.add(other, "b", Payload.dense(small), 3);
        var merged = rule.merge(acc, other);
        assertThat(merged.state().count).isEqualTo(1);
        assertThat(big).containsExactly(3, 4); // the record is left alone
        var restored = RuleTestData.throughSavepoint(rule.accumulatorSerializer(), merged);
        assertThat(restored.state().count).isEqualTo(1);
        float[] got = rule.result(restored).values();
        assertThat((double) got[0]).isCloseTo((0.6 + 3 * 0.1) / 4 + 10, within(1e-5));
        assertThat((double) got[1]).isCloseTo((0.8 + 3 * 0.2) / 4 + 10, within(1e-5));
    }

    @Test
    void aWrappedRuleKeepsItsSelectionPhaseAndTheResultHookStillApplies() {
        ClipAndShift<Updates> rule = new ClipAndShift<>(new Krum(0, 0, false), 100, 1f);
        assertThat(rule.buffersUpdates()).isTrue();
        var acc = rule.createAccumulator();
        rule.add(acc, "a", Payload.dense(new float[] {1}), 1);
        rule.add(acc, "b", Payload.dense(new float[] {2}), 1);
        rule.add(acc, "c", Payload.dense(new float[] {50}), 1);
        var s = rule.selection();
        List<String> contributors = List.of("a", "b", "c");
        List<String> chosen = s.select(s.partial(acc, contributors), contributors, 1);
        assertThat(chosen).containsExactly("a");
        assertThat(s.resultOf(acc, chosen).values()).containsExactly(2f);
    }
}
