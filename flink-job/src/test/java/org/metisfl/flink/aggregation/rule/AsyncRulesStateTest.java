package org.metisfl.flink.aggregation.rule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.AsyncContext;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.AsyncUpdate;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule.Latest;
import org.metisfl.flink.model.Payload;

/** The asynchronous rules' own state survives a savepoint, and they refuse ciphertexts. */
class AsyncRulesStateTest {

    /** A shard as the aggregator offers it, on the heap. */
    private static final class Shard implements AsyncContext {
        Payload global;
        final Map<Long, Payload> versions = new HashMap<>();
        final Map<String, Latest> latest = new HashMap<>();
        int tooStale;

        Shard(float... values) {
            global = Payload.dense(values);
            versions.put(0L, global.copy());
        }

        @Override
        public long version() {
            return 0;
        }

        @Override
        public Payload global() {
            return global;
        }

        @Override
        public void setGlobal(Payload model) {
            global = model;
        }

        @Override
        public Payload modelAt(long version) {
            return versions.get(version);
        }

        @Override
        public Latest latest(String learner) {
            return latest.get(learner);
        }

        @Override
        public void keepLatest(String learner, Latest l) {
            latest.put(learner, l);
        }

        @Override
        public void dropTooStale() {
            tooStale++;
        }
    }

    @Test
    void fedBuffResumesItsBufferAfterASavepoint() throws Exception {
        FedBuff rule = new FedBuff(2, 0.5);
        Shard shard = new Shard(1f, 1f);
        FedBuff.Buffer state = rule.createState();
        assertThat(
                        rule.apply(
                                state,
                                shard,
                                new AsyncUpdate("a", Payload.dense(new float[] {3, 5}), 1, 1, 0)))
                .isNull();
        FedBuff.Buffer back = RuleTestData.throughSavepoint(rule.stateSerializer(), state);
        assertThat(back.buffered()).isEqualTo(1);
        List<String> version =
                rule.apply(
                        back,
                        shard,
                        new AsyncUpdate("b", Payload.dense(new float[] {1, 3}), 1, 0.5, 0));
        assertThat(version).containsExactly("a", "b");
        // deltas (2, 4) + 0.5 x (0, 2) = (2, 5); global += 0.5 x (2, 5) / 2
        assertThat(shard.global.values()).containsExactly(1.5f, 2.25f);
        assertThat(
                        rule.apply(
                                rule.createState(),
                                shard,
                                new AsyncUpdate("c", Payload.dense(new float[] {0, 0}), 1, 1, 7)))
                .isNull();
        assertThat(shard.tooStale).isEqualTo(1);
    }

    @Test
    void fedRecStateIsTheRunningSumThroughASavepoint() throws Exception {
        FedRec rule = new FedRec();
        Shard shard = new Shard(0f);
        FedAvg.Sum state = rule.createState();
        rule.apply(state, shard, new AsyncUpdate("a", Payload.dense(new float[] {2}), 1, 1, 0));
        FedAvg.Sum back = RuleTestData.throughSavepoint(rule.stateSerializer(), state);
        rule.apply(back, shard, new AsyncUpdate("b", Payload.dense(new float[] {8}), 3, 1, 0));
        assertThat(shard.global.values()).containsExactly((2f + 24f) / 4);
    }

    @Test
    void denseRulesRefuseCiphertexts() {
        Payload c = Payload.ciphertext("ckks", "h", 2, new byte[8]);
        assertThatThrownBy(
                        () ->
                                new FedAsync(0.5)
                                        .apply(
                                                null,
                                                new Shard(0f, 0f),
                                                new AsyncUpdate("a", c, 1, 1, 0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("async.rule 'fedasync'");
    }
}
