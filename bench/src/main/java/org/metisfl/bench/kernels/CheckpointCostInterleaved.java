package org.metisfl.bench.kernels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.operators.OperatorSnapshotFinalizer;
import org.apache.flink.streaming.api.operators.OperatorSnapshotFutures;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.Collector;
import org.apache.flink.util.FileUtils;
import org.metisfl.flink.aggregation.ShardAggregator;
import org.metisfl.flink.aggregation.ShardKeys;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;
import org.metisfl.flink.state.WriteBehindMap;
import org.metisfl.flink.state.WriteBehindState;

/**
 * What a checkpoint costs a shard aggregator holding a round's open FedAvg sums (8 bytes per
 * parameter), on RocksDB with file-system checkpoint storage: the synchronous part (the operator's
 * task thread, during which no update is aggregated) and the asynchronous part, for the sums kept
 * as write-behind keyed map state (as the aggregator did before: written into RocksDB before the
 * barrier, then RocksDB's own snapshot) against the real {@link ShardAggregator} (operator state
 * copied in memory, serialised and written asynchronously). Before each checkpoint every shard's
 * sum takes one update, as in a busy round. The two alternate checkpoint by checkpoint.
 *
 * <p>{@code CheckpointCostInterleaved [checkpoints] [parameters]} (default 12, 10,000,000).
 */
public final class CheckpointCostInterleaved {
    private static final int SHARD = 65_536;

    private CheckpointCostInterleaved() {}

    public static void main(String[] args) throws Exception {
        int checkpoints = args.length > 0 ? Integer.parseInt(args[0]) : 12;
        long params = args.length > 1 ? Long.parseLong(args[1]) : 10_000_000L;
        int shards = (int) ((params + SHARD - 1) / SHARD);
        Path dir = Files.createTempDirectory("metisfl-checkpoint-cost");
        ShardKeys keys = new ShardKeys(1);
        List<List<Double>> syncMs = List.of(new ArrayList<>(), new ArrayList<>());
        List<List<Double>> asyncMs = List.of(new ArrayList<>(), new ArrayList<>());
        String[] names = {"write-behind keyed map state (before)", "ShardAggregator (after)"};
        List<KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>> hs =
                List.of(
                        harness(new FlushingKeyedProcessOperator<>(new WriteBehindSums()), keys),
                        harness(
                                new FlushingKeyedProcessOperator<>(
                                        new ShardAggregator(new FedAvg())),
                                keys));
        List<CheckpointStorageAccess> storage = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            hs.get(i).open();
            CheckpointStorageAccess a =
                    new FileSystemCheckpointStorage(dir.resolve("s" + i).toUri())
                            .createCheckpointStorage(new JobID());
            a.initializeBaseLocationsForCheckpoint();
            storage.add(a);
            for (int s = 0; s < shards; s++) {
                hs.get(i)
                        .processElement(
                                GatewayEvent.roundOpened(
                                        0, 1, s, shards, 1 << 30, 1, Long.MAX_VALUE - 1),
                                0);
            }
        }
        float[] values = new float[SHARD];
        for (int i = 0; i < SHARD; i++) {
            values[i] = (i % 97) * 0.01f;
        }
        int learner = 0;
        for (int c = 1; c <= checkpoints + 2; c++) {
            for (int pass = 0; pass < 2; pass++) {
                int which = (c + pass) % 2;
                var h = hs.get(which);
                learner++;
                for (int s = 0; s < shards; s++) {
                    h.processElement(
                            GatewayEvent.updateShard(
                                    0,
                                    "l" + learner,
                                    1,
                                    s,
                                    shards,
                                    1.0,
                                    "t",
                                    0,
                                    Payload.dense(values.clone())),
                            c);
                }
                CheckpointStreamFactory location =
                        storage.get(which)
                                .resolveCheckpointStorageLocation(
                                        c, CheckpointStorageLocationReference.getDefault());
                long t0 = System.nanoTime();
                h.prepareSnapshotPreBarrier(c);
                OperatorSnapshotFutures f =
                        h.getOperator()
                                .snapshotState(
                                        c,
                                        c,
                                        CheckpointOptions.forCheckpointWithDefaultLocation(),
                                        location);
                long t1 = System.nanoTime();
                OperatorSnapshotFinalizer.create(f);
                long t2 = System.nanoTime();
                h.notifyOfCompletedCheckpoint(c);
                if (c > 2) { // two warm-up checkpoints each
                    syncMs.get(which).add((t1 - t0) / 1e6);
                    asyncMs.get(which).add((t2 - t1) / 1e6);
                }
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%,d parameters in %d shards of open FedAvg sums (%d MB), RocksDB, %d checkpoints"
                        + " each, interleaved%n",
                params,
                shards,
                8L * shards * SHARD / 1_000_000,
                checkpoints);
        System.out.println(
                "| sums kept as | sync ms min | sync ms median | async ms min | async ms median |");
        System.out.println("| --- | --- | --- | --- | --- |");
        for (int i = 0; i < 2; i++) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.1f | %.1f | %.1f | %.1f |%n",
                    names[i],
                    min(syncMs.get(i)),
                    median(syncMs.get(i)),
                    min(asyncMs.get(i)),
                    median(asyncMs.get(i)));
        }
        for (var h : hs) {
            h.close();
        }
        FileUtils.deleteDirectory(dir.toFile());
    }

    private static KeyedOneInputStreamOperatorTestHarness<Integer, GatewayEvent, GlobalShard>
            harness(
                    FlushingKeyedProcessOperator<Integer, GatewayEvent, GlobalShard> op,
                    ShardKeys keys)
                    throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        op, (GatewayEvent e) -> keys.keyOf(e.shard), Types.INT);
        h.setStateBackend(new EmbeddedRocksDBStateBackend(true));
        return h;
    }

    private static double min(List<Double> xs) {
        return Collections.min(xs);
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    /** The sums as the aggregator kept them before: a write-behind keyed map state per round. */
    private static final class WriteBehindSums
            extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard>
            implements CheckpointFlushing {
        private final FedAvg rule = new FedAvg();
        private transient WriteBehindMap<Integer, Long, FedAvg.Sum> sums;

        @Override
        public void open(OpenContext openContext) {
            sums =
                    WriteBehindMap.of(
                            getRuntimeContext(),
                            new MapStateDescriptor<>(
                                    "accumulators",
                                    LongSerializer.INSTANCE,
                                    rule.accumulatorSerializer()));
        }

        @Override
        public List<WriteBehindState> writeBehindStates() {
            return List.of(sums);
        }

        @Override
        public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
                throws Exception {
            if (e.kind() != GatewayEvent.Kind.UPDATE_SHARD) {
                return;
            }
            FedAvg.Sum s = sums.get(ctx.getCurrentKey(), e.round());
            if (s == null) {
                s = rule.createAccumulator();
                sums.put(ctx.getCurrentKey(), e.round(), s);
            }
            rule.add(s, e.learnerId(), e.values(), e.weight());
        }
    }
}
