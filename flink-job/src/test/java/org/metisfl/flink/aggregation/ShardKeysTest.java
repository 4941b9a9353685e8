package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ShardKeysTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 7})
    void shardsAreSpreadRoundRobinOverSubtasksAndKeysMapBack(int parallelism) {
        ShardKeys keys = new ShardKeys(parallelism);
        int maxParallelism = KeyGroupRangeAssignment.computeDefaultMaxParallelism(parallelism);
        Set<Integer> seen = new HashSet<>();
        for (int shard = 0; shard < 500; shard++) {
            int key = keys.keyOf(shard);
            assertThat(ShardKeys.shardOf(key)).isEqualTo(shard);
            assertThat(seen.add(key)).isTrue();
            assertThat(
                            KeyGroupRangeAssignment.assignKeyToParallelOperator(
                                    key, maxParallelism, parallelism))
                    .as("subtask of shard %d", shard)
                    .isEqualTo(shard % parallelism);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {128, 256, 1000, 4096, 32768})
    void keysChosenForAConfiguredMaxParallelismLandOnTheirSubtaskUnderIt(int maxParallelism) {
        for (int parallelism : new int[] {1, 2, 3, 5, 8}) {
            ShardKeys keys = new ShardKeys(parallelism, maxParallelism);
            assertThat(keys.maxParallelism()).isEqualTo(maxParallelism);
            for (int shard = 0; shard < 100; shard++) {
                assertThat(
                                KeyGroupRangeAssignment.assignKeyToParallelOperator(
                                        keys.keyOf(shard), maxParallelism, parallelism))
                        .as(
                                "subtask of shard %d of %d under %d",
                                shard, parallelism, maxParallelism)
                        .isEqualTo(shard % parallelism);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aMaxParallelismBelowTheParallelismIsRefusedWithTheFix() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ShardKeys(4, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("pipeline.max-parallelism");
    }
}
