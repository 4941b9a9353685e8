package org.metisfl.flink.aggregation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.metisfl.flink.aggregation.kernel.RobustAggregation;
import org.metisfl.flink.aggregation.kernel.WeightedSum;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.Rule;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.CheckpointFlushing;
import org.metisfl.flink.state.WriteBehindState;
import org.metisfl.flink.state.WriteBehindValue;

/**
 * Aggregates one shard of the model, round by round (the synchronous protocol's window). Keyed by
 * shard index. A round's window fires as soon as every participant of its plan has contributed, or
 * when the watermark passes the round's deadline: then with the updates it has if they reach the
 * quorum, else the round is aborted. Because the gateways refuse updates after the deadline and
 * hold their watermark below any update not yet emitted, every shard of a round closes on the same
 * contributor set.
 *
 * <p>A second copy of a learner's update for a round (a retry, possibly through another gateway) is
 * dropped, and so is anything for a round already closed. Memory per shard is O(shard size),
 * whatever the number of learners.
 */
public class ShardAggregator extends KeyedProcessFunction<Integer, GatewayEvent, GlobalShard>
        implements CheckpointFlushing {
    private static final long serialVersionUID = 1L;

    private final Rule rule;
    private final int strideLength;
    private final double trimFraction;

    public ShardAggregator(FederationConfig config) {
        this.rule = config.rule();
        this.strideLength = config.strideLength();
        this.trimFraction = config.trimFraction();
    }

    private transient WriteBehindValue<Integer, ShardRounds> shards;
    private transient Counter duplicates;
    private transient Counter late;

    @Override
    public void open(OpenContext openContext) {
        shards =
                WriteBehindValue.of(
                        getRuntimeContext(),
                        new ValueStateDescriptor<>(
                                "shard-rounds", TypeInformation.of(ShardRounds.class)));
        duplicates = getRuntimeContext().getMetricGroup().counter("duplicateUpdates");
        late = getRuntimeContext().getMetricGroup().counter("lateUpdates");
    }

    @Override
    public List<WriteBehindState> writeBehindStates() {
        return List.of(shards);
    }

    @Override
    public void processElement(GatewayEvent e, Context ctx, Collector<GlobalShard> out)
            throws Exception {
        ShardRounds rounds = rounds(ctx.getCurrentKey());
        if (e.kind == GatewayEvent.Kind.SELECTION) {
            select(e, rounds, ShardKeys.shardOf(ctx.getCurrentKey()), out);
            return;
        }
        if (e.round <= rounds.closedThrough) {
            if (e.kind == GatewayEvent.Kind.UPDATE_SHARD) {
                late.inc();
            }
            return;
        }
        ShardRound sr = rounds.find(e.round);
        if (sr == null) {
            sr = new ShardRound();
            sr.round = e.round;
            sr.numShards = e.numShards;
            rounds.open.add(sr);
        }
        switch (e.kind) {
            case ROUND_OPENED:
                if (sr.opened && e.deadline > sr.deadline) {
                    // The job restarted and the coordinator gave the round a fresh deadline.
                    ctx.timerService().deleteEventTimeTimer(sr.deadline);
                    sr.deadline = e.deadline;
                    ctx.timerService().registerEventTimeTimer(sr.deadline);
                    return;
                }
                if (sr.opened) {
                    return; // every gateway announces the round; the first copy counts
                }
                sr.opened = true;
                sr.expected = e.participantCount;
                sr.quorum = e.quorum;
                sr.deadline = e.deadline;
                ctx.timerService().registerEventTimeTimer(e.deadline);
                break;
            case UPDATE_SHARD:
                if (sr.hasContributed(e.learnerId)) {
                    duplicates.inc();
                    return;
                }
                fold(sr, e.values, e.weight);
                sr.totalWeight += e.weight;
                sr.addContributor(e.learnerId);
                break;
            default:
                throw new IllegalArgumentException("not an aggregation record: " + e);
        }
        if (sr.allExpectedContributed()) {
            close(rounds, sr, ShardKeys.shardOf(ctx.getCurrentKey()), false, out);
            ctx.timerService().deleteEventTimeTimer(sr.deadline);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<GlobalShard> out)
            throws Exception {
        ShardRounds rounds = rounds(ctx.getCurrentKey());
        List<ShardRound> due = new ArrayList<>();
        for (ShardRound sr : rounds.open) {
            if (sr.opened && sr.deadline <= timestamp && !sr.awaitingSelection) {
                due.add(sr);
            }
        }
        due.sort((a, b) -> Long.compare(a.round, b.round));
        for (ShardRound sr : due) {
            boolean quorate = !sr.contributors.isEmpty() && sr.contributors.size() >= sr.quorum;
            close(rounds, sr, ShardKeys.shardOf(ctx.getCurrentKey()), !quorate, out);
        }
    }

    private ShardRounds rounds(Integer key) throws Exception {
        ShardRounds r = shards.get(key);
        if (r == null) {
            r = new ShardRounds();
            shards.put(key, r);
        }
        return r;
    }

    /** Adds one update to the round as the rule needs it: folded, or kept. */
    private void fold(ShardRound sr, float[] values, double weight) {
        switch (rule) {
            case FEDAVG -> {
                if (sr.sum == null) {
                    sr.sum = new double[values.length];
                }
                WeightedSum.addScaled(sr.sum, values, weight);
            }
            case FEDSTRIDE -> {
                sr.buffered.add(values);
                sr.bufferedWeights.add(weight);
                if (sr.buffered.size() >= strideLength) {
                    foldBlock(sr);
                }
            }
            case MEDIAN, TRIMMED_MEAN, KRUM, MULTI_KRUM -> {
                sr.buffered.add(values);
                sr.bufferedWeights.add(weight);
            }
        }
    }

    /** Krum's second phase: the mean of the updates the coordinator selected, for this shard. */
    private void select(GatewayEvent e, ShardRounds rounds, int shard, Collector<GlobalShard> out) {
        ShardRound sr = rounds.find(e.round);
        if (sr == null || !sr.awaitingSelection) {
            return; // every gateway forwards the selection; the first copy counts
        }
        List<float[]> chosen = new ArrayList<>();
        for (String learner : e.participants) {
            int i = sr.contributors.indexOf(learner);
            if (i >= 0) {
                chosen.add(sr.buffered.get(i));
            }
        }
        double[] sum = new double[chosen.get(0).length];
        for (float[] u : chosen) {
            WeightedSum.addScaled(sum, u, 1.0);
        }
        GlobalShard g = new GlobalShard();
        g.round = sr.round;
        g.shard = shard;
        g.numShards = sr.numShards;
        List<String> selected = new ArrayList<>(e.participants);
        Collections.sort(selected);
        g.contributors = selected;
        g.totalWeight = chosen.size();
        g.values = WeightedSum.mean(sum, chosen.size());
        out.collect(g);
        rounds.open.remove(sr);
    }

    /** Krum's first phase: this shard's part of the pairwise squared distances. */
    private static double[] partialDistances(ShardRound sr, List<String> sortedContributors) {
        List<float[]> ordered = new ArrayList<>();
        for (String learner : sortedContributors) {
            ordered.add(sr.buffered.get(sr.contributors.indexOf(learner)));
        }
        int n = ordered.size();
        double[][] acc = new double[n][n];
        RobustAggregation.addPairwiseSquaredDistances(ordered, acc);
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(acc[i], 0, flat, i * n, n);
        }
        return flat;
    }

    /** FedStride: folds the buffered block of updates into the running sum. */
    private static void foldBlock(ShardRound sr) {
        for (int i = 0; i < sr.buffered.size(); i++) {
            if (sr.sum == null) {
                sr.sum = new double[sr.buffered.get(i).length];
            }
            WeightedSum.addScaled(sr.sum, sr.buffered.get(i), sr.bufferedWeights.get(i));
        }
        sr.buffered.clear();
        sr.bufferedWeights.clear();
    }

    private float[] aggregate(ShardRound sr) {
        return switch (rule) {
            case FEDAVG -> WeightedSum.mean(sr.sum, sr.totalWeight);
            case FEDSTRIDE -> {
                foldBlock(sr);
                yield WeightedSum.mean(sr.sum, sr.totalWeight);
            }
            case MEDIAN -> RobustAggregation.coordinateMedian(sr.buffered);
            case TRIMMED_MEAN -> RobustAggregation.trimmedMean(sr.buffered, trimFraction);
            case KRUM, MULTI_KRUM ->
                    throw new IllegalStateException("Krum aggregates after the selection");
        };
    }

    private void close(
            ShardRounds rounds,
            ShardRound sr,
            int shard,
            boolean abort,
            Collector<GlobalShard> out) {
        GlobalShard g = new GlobalShard();
        g.round = sr.round;
        g.shard = shard;
        g.numShards = sr.numShards;
        List<String> contributors = new ArrayList<>(sr.contributors);
        Collections.sort(contributors);
        g.contributors = contributors;
        g.totalWeight = sr.totalWeight;
        g.aborted = abort;
        boolean selecting = !abort && (rule == Rule.KRUM || rule == Rule.MULTI_KRUM);
        if (selecting) {
            g.distances = partialDistances(sr, contributors);
            sr.awaitingSelection = true;
        } else {
            g.values = abort ? null : aggregate(sr);
        }
        out.collect(g);
        rounds.closedThrough = sr.round;
        // Earlier rounds still buffered can never close now: drop them with this one.
        rounds.open.removeIf(r -> r.round < sr.round || (r == sr && !selecting));
    }
}
