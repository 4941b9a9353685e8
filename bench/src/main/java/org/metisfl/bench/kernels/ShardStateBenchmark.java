package org.metisfl.bench.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.metisfl.flink.aggregation.ShardAggregator;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The keyed-state update of one update shard: the real {@link ShardAggregator} (its write-behind
 * round state with the double[] sum) in the operator the job runs it in, driven through Flink's
 * operator test harness on the real heap (HashMap) and embedded RocksDB keyed state backends — no
 * MiniCluster, no network. One op is one UPDATE_SHARD of {@code values} floats for a round of
 * {@code participants} learners; every {@code participants}-th op also closes the round (mean +
 * emit), writes the state to the backend as a checkpoint barrier would (one checkpoint per round)
 * and opens the next, so the figure is the amortised per-update cost at steady state. Bytes per op:
 * 4 x values.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ShardStateBenchmark {

    @Param({"HASHMAP", "ROCKSDB"})
    public String backend;

    @Param({"10", "1000", "10000"})
    public int participants;

    @Param({"65536"})
    public int values;

    private KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard> harness;
    private List<String> learners;
    private Payload update;
    private long round;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        StateBackend stateBackend =
                "ROCKSDB".equals(backend)
                        ? new EmbeddedRocksDBStateBackend()
                        : new HashMapStateBackend();
        harness =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(FederationConfig.of(Map.of()))),
                        e -> e.shard,
                        Types.INT);
        harness.setStateBackend(stateBackend);
        harness.open();
        learners = new ArrayList<>(participants);
        for (int i = 0; i < participants; i++) {
            learners.add(String.format("learner-%016x", i));
        }
        float[] v = new float[values];
        for (int i = 0; i < values; i++) {
            v[i] = i * 1e-6f;
        }
        update = Payload.dense(v);
        openRound();
    }

    private void openRound() throws Exception {
        round++;
        harness.processElement(
                GatewayEvent.roundOpened(
                        0, round, 0, 1, participants, participants, Long.MAX_VALUE - 1),
                0);
        next = 0;
    }

    @Benchmark
    public int updateShard() throws Exception {
        harness.processElement(
                GatewayEvent.updateShard(
                        0, learners.get(next++), round, 0, 1, 100, "t", round, update),
                1);
        if (next == participants) {
            int emitted = harness.getOutput().size();
            harness.getOutput().clear();
            // One checkpoint per round: the write-behind state is written to the backend here.
            harness.prepareSnapshotPreBarrier(round);
            openRound();
            return emitted;
        }
        return next;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        harness.close();
    }
}
