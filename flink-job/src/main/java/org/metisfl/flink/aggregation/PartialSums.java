package org.metisfl.flink.aggregation;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.metisfl.flink.aggregation.rule.AggregationRule;
import org.metisfl.flink.aggregation.rule.AsyncAggregationRule;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.serialization.BulkDoubleArraySerializer;

/**
 * Local pre-aggregation at a gateway: the updates the gateway's reader takes from its queue in one
 * poll are folded, shard by shard, into one partial accumulator of the rule per (round, shard), and
 * the partials, not the updates, cross the keyed exchange to the aggregators (which merge them with
 * {@link AggregationRule#merge}). Plain logic, no Flink state: partials are emitted in the poll
 * that took their updates, so they never outlive a checkpoint barrier and the checkpoint that holds
 * an update's partial is the one whose completion acknowledges it, as without pre-aggregation.
 *
 * <p>Exactly once: a partial must never hold an update the aggregators already counted (a sum
 * cannot be taken apart again). Only a learner's home gateway ({@link #homeGateway}) folds its
 * updates; every other gateway sends them on marked {@code foreign}, and the aggregators hold a
 * foreign copy aside until the round closes, dropping it if a partial holding the learner arrives
 * first (see {@code ShardAggregator}). The home gateway's own copies are caught here (each learner
 * is folded once per round). Copies the job may hold from before a restart (the round that was open
 * when the job restored, whose updates may be in the restored sums and be sent again by learners
 * who were not acknowledged) are never folded: rounds up to the first one this reader sees travel
 * as single updates, which the aggregators deduplicate one by one. A round opened after that can
 * hold only updates of this gateway's learners that this reader emitted, or foreign copies, which
 * are held aside.
 *
 * <p>A lone update of a (round, shard) is emitted as it is (no partial, no copy).
 *
 * <p><b>Asynchronous</b> (FedBuff, a rule that {@link AsyncAggregationRule#mergesPartials()}): the
 * updates of one poll are folded per (base version, shard) into (Σu, n) as doubles, with their
 * (learner, task) pairs, and applied at the shard as one step (see {@code FedBuff} for what that
 * means at the buffer boundary); a partial holds at most the rule's {@link
 * AsyncAggregationRule#maxPartialCount()} updates (FedBuff's K) and leaves as soon as it is full.
 * Exactly once, without rounds: a reader folds only updates of tasks its own run handed out ({@link
 * #foldTasksOf}; task ids carry the gateway run), so an update folded here was never emitted by
 * another gateway run, neither before a restart (a resend of a task of an earlier run travels
 * alone, and the aggregators drop it if they hold it) nor by another gateway; and each (learner,
 * task) once (a resend to this gateway is dropped here: a run hands a learner its tasks one after
 * another, numbered, so the latest task folded per learner tells a copy from a new update). An
 * update of a task another run handed out is sent on marked {@code foreign} when there are several
 * gateways: its issuing gateway may fold a copy, and the aggregator keeps the foreign single's
 * values to take them out of that partial if the single was applied first. The partials of a poll
 * leave before a MODEL_SERVED the poll holds, so a model served says that every update admitted on
 * an older model is already emitted.
 */
public final class PartialSums {

    /** What a reader needs to build one (serializable, part of the source). */
    public static final class Factory implements Serializable {
        private static final long serialVersionUID = 1L;
        private final AggregationRule<?> rule;
        private final boolean async;
        private final int maxCount;

        public Factory(AggregationRule<?> rule) {
            if (!rule.preAggregates()) {
                throw new IllegalArgumentException(
                        "aggregation rule '" + rule.name() + "' cannot merge partial aggregates");
            }
            this.rule = rule;
            this.async = false;
            this.maxCount = Integer.MAX_VALUE;
        }

        private Factory(int maxCount) {
            this.rule = null;
            this.async = true;
            this.maxCount = maxCount;
        }

        /** Folding of asynchronous updates into partial sums for {@code rule}. */
        public static Factory async(AsyncAggregationRule<?> rule) {
            if (!rule.mergesPartials()) {
                throw new IllegalArgumentException(
                        "async.rule '"
                                + rule.name()
                                + "' cannot merge partial sums of updates (it takes them one by"
                                + " one); turn pre-aggregation off or use fedbuff");
            }
            return new Factory(Math.max(1, rule.maxPartialCount()));
        }

        /** The partial sums of gateway {@code gateway} out of {@code gateways}. */
        public PartialSums create(int gateway, int gateways) {
            if (gateways < 1 || gateway < 0 || gateway >= gateways) {
                throw new IllegalArgumentException(
                        "gateway " + gateway + " out of " + gateways + " gateways");
            }
            return async
                    ? new PartialSums(gateway, gateways, maxCount)
                    : new PartialSums(rule, gateway, gateways);
        }
    }

    /** Where emitted records go: the reader's output, with their event time. */
    public interface Emitter {
        void emit(GatewayEvent e, long timestamp);
    }

    /** One (round, shard) being folded in this poll. */
    private static final class Open {
        GatewayEvent first;
        int numShards;
        int sizeHint;
        Object acc;
        List<String> contributors;
        double weight;
        int unclipped;
        long timestamp = Long.MIN_VALUE;
    }

    private record Key(long round, int shard) {}

    private final AggregationRule<Object> rule;
    private final TypeSerializer<Object> serializer;
    private final int gateway;
    private final int gateways;
    private final Map<Key, Open> open = new LinkedHashMap<>();
    private final Map<Long, Set<String>> folded = new HashMap<>();
    private long firstRound = Long.MIN_VALUE;

    // Asynchronous folding (see the class comment); unused when synchronous.
    private final boolean async;
    private final int maxCount;
    private Predicate<String> ownTask = t -> false;
    private final Map<AsyncKey, AsyncOpen> asyncOpen = new LinkedHashMap<>();

    /**
     * Asynchronous: per learner, the sequence number of the latest task of this run whose update
     * was folded. This run hands a learner its next task only once the update of the previous one
     * is accepted, which queues it first; so the first copies of a learner's updates of this run's
     * tasks come here in the order of their tasks' sequence numbers, and an update of a task at or
     * below the latest folded one is a copy sent again. One number per learner, however many
     * versions the gateways admit updates of.
     */
    private final Map<String, Long> latestFolded = new HashMap<>();

    /** One (base version, shard) being folded in this poll. */
    private static final class AsyncOpen {
        GatewayEvent first;
        double[] sum;
        final List<String> learners = new ArrayList<>(4);
        final List<String> tasks = new ArrayList<>(4);
        double weight;
        long timestamp = Long.MIN_VALUE;
    }

    private record AsyncKey(long base, int shard) {}

    // Metrics, read by the metric reporter's thread.
    private volatile long partialsEmitted;
    private volatile long updatesFolded;
    private volatile long foreignSent;

    @SuppressWarnings("unchecked")
    PartialSums(AggregationRule<?> rule, int gateway, int gateways) {
        this.rule = (AggregationRule<Object>) rule;
        this.serializer = this.rule.accumulatorSerializer();
        this.gateway = gateway;
        this.gateways = gateways;
        this.async = false;
        this.maxCount = Integer.MAX_VALUE;
    }

    PartialSums(int gateway, int gateways, int maxCount) {
        this.rule = null;
        this.serializer = null;
        this.gateway = gateway;
        this.gateways = gateways;
        this.async = true;
        this.maxCount = maxCount;
    }

    /**
     * Asynchronous: the tasks this reader's run handed out (the only ones it folds); set when the
     * run starts its gateway. Until then nothing is folded. Their ids end in {@code -<n>}, {@code
     * n} the run's sequence number of the task, counting up from 1 in the order the run hands tasks
     * out (see {@link #taskSequence}).
     */
    public void foldTasksOf(Predicate<String> handedOutThisRun) {
        this.ownTask = handedOutThisRun;
        latestFolded.clear();
    }

    /**
     * The sequence number a task id of a gateway run ends in ({@code <run prefix><n>}, {@code n}
     * &gt; 0), or -1 if it ends in none.
     */
    public static long taskSequence(String taskId) {
        int dash = taskId.lastIndexOf('-');
        String n = taskId.substring(dash + 1);
        if (n.isEmpty() || n.length() > 18) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < n.length(); i++) {
            char c = n.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v > 0 ? v : -1;
    }

    /** Asynchronous: how many learners' latest folded tasks are remembered (a test's view). */
    int rememberedLearners() {
        return latestFolded.size();
    }

    /**
     * The one gateway (of {@code gateways}) that may fold {@code learnerId}'s updates: a fixed
     * function of the id (Java's specified {@code String.hashCode}), so every gateway, and the
     * gateway that issues the id at join ({@link #homedLearnerId}), agree on it.
     */
    public static int homeGateway(String learnerId, int gateways) {
        int h = learnerId.hashCode();
        return Math.floorMod(h ^ (h >>> 16), gateways);
    }

    /**
     * A fresh learner id (drawn from {@code ids}) whose home is {@code gateway}: the gateway a
     * learner joins through is the one that folds its updates, and a learner stays on the gateway
     * it joined through unless a call fails, so its uploads are folded on the common path. Takes
     * {@code gateways} draws on average.
     */
    public static String homedLearnerId(Supplier<String> ids, int gateway, int gateways) {
        if (gateways <= 1) {
            return ids.get();
        }
        for (int i = 0; i < 64 * gateways; i++) {
            String id = ids.get();
            if (homeGateway(id, gateways) == gateway) {
                return id;
            }
        }
        return ids.get(); // not reached in practice; any id is correct, it is only not folded
    }

    /** True if this gateway folds {@code learnerId}'s updates (it is the learner's home). */
    private boolean folds(String learnerId) {
        return gateways == 1 || homeGateway(learnerId, gateways) == gateway;
    }

    /**
     * Takes one batch of the gateway's queue (an update's shards, or control records), in queue
     * order: folds the update shards it may fold, emits the rest through {@code out}. A
     * PARTICIPANT_DROPPED first flushes the open partials, since it must follow every update of its
     * learner this gateway accepted.
     */
    public void offer(List<GatewayEvent> batch, long timestamp, Emitter out) {
        if (async) {
            offerAsync(batch, timestamp, out);
            return;
        }
        for (GatewayEvent e : batch) {
            switch (e.kind()) {
                case ROUND_OPENED -> {
                    noteRound(e.round());
                    // Updates of older rounds are refused by the gateway from now on.
                    folded.keySet().removeIf(r -> r < e.round());
                    out.emit(e, timestamp);
                }
                case UPDATE_SHARD -> {
                    noteRound(e.round());
                    if (!folds(e.learnerId())) {
                        // Another gateway may fold a copy of this update: the aggregators hold
                        // this one aside until they know whether a partial holds the learner.
                        e.foreign = true;
                        if (e.shard() == 0) {
                            foreignSent++;
                        }
                        out.emit(e, timestamp);
                    } else if (e.round() <= firstRound) {
                        out.emit(e, timestamp);
                    } else {
                        fold(e, timestamp);
                    }
                }
                case PARTICIPANT_DROPPED -> {
                    flush(out);
                    out.emit(e, timestamp);
                }
                default -> out.emit(e, timestamp);
            }
        }
        // An update's shards are one batch: it is folded (or not) as a whole.
        lastLearner = null;
    }

    private String lastLearner;
    private boolean lastWasDuplicate;

    /** The emitter of the batch being offered (a partial that fills up leaves at once). */
    private Emitter pendingEmitter;

    private void offerAsync(List<GatewayEvent> batch, long timestamp, Emitter out) {
        pendingEmitter = out;
        for (GatewayEvent e : batch) {
            switch (e.kind()) {
                case UPDATE_SHARD -> {
                    boolean own = ownTask.test(e.taskId()) && taskSequence(e.taskId()) > 0;
                    if (!own) {
                        // Another gateway run handed this task out and may fold a copy of it:
                        // the aggregators keep this single's values to take them out of such a
                        // partial. With one gateway that run was this gateway's before a
                        // restart, which folded nothing the job still expects.
                        if (gateways > 1) {
                            e.foreign = true;
                            if (e.shard() == 0) {
                                foreignSent++;
                            }
                        }
                        out.emit(e, timestamp);
                    } else if (!e.values().isDense()) {
                        out.emit(e, timestamp);
                    } else {
                        foldAsync(e, timestamp);
                    }
                }
                case MODEL_SERVED -> {
                    // Every update admitted on an older model leaves before this record.
                    flush(out);
                    out.emit(e, timestamp);
                }
                case PARTICIPANT_DROPPED -> {
                    flush(out);
                    out.emit(e, timestamp);
                }
                default -> out.emit(e, timestamp);
            }
        }
        lastLearner = null;
    }

    private void foldAsync(GatewayEvent e, long timestamp) {
        String learner = e.learnerId();
        if (!learner.equals(lastLearner)) {
            lastLearner = learner;
            long task = taskSequence(e.taskId());
            Long latest = latestFolded.get(learner);
            lastWasDuplicate = latest != null && task <= latest;
            if (!lastWasDuplicate) {
                latestFolded.put(learner, task);
                updatesFolded++;
            }
        }
        if (lastWasDuplicate) {
            return; // a second copy of an update this run already sent on
        }
        AsyncKey key = new AsyncKey(e.baseVersion(), e.shard());
        AsyncOpen o = asyncOpen.get(key);
        if (o == null) {
            o = new AsyncOpen();
            o.first = e;
            asyncOpen.put(key, o);
        } else {
            if (o.sum == null) {
                float[] v = o.first.values().values();
                o.sum = new double[v.length];
                add(o.sum, v);
            }
            float[] v = e.values().values();
            if (v.length != o.sum.length) {
                throw new IllegalStateException(
                        "update shards of one shard differ in size: "
                                + v.length
                                + ", "
                                + o.sum.length);
            }
            add(o.sum, v);
        }
        o.learners.add(learner);
        o.tasks.add(e.taskId());
        o.weight += e.weight();
        o.timestamp = Math.max(o.timestamp, timestamp);
        if (o.learners.size() >= maxCount) {
            // Full (the rule's K): it leaves now, the next update of the key starts another.
            asyncOpen.remove(key);
            emitAsync(key, o, pendingEmitter);
        }
    }

    private static void add(double[] sum, float[] v) {
        for (int i = 0; i < sum.length; i++) {
            sum[i] += v[i];
        }
    }

    private void flushAsync(Emitter out) {
        for (Map.Entry<AsyncKey, AsyncOpen> entry : asyncOpen.entrySet()) {
            emitAsync(entry.getKey(), entry.getValue(), out);
        }
        asyncOpen.clear();
    }

    private void emitAsync(AsyncKey key, AsyncOpen o, Emitter out) {
        if (o.sum == null) {
            out.emit(o.first, o.timestamp);
            return;
        }
        DataOutputSerializer bytes = new DataOutputSerializer(o.sum.length * Double.BYTES + 8);
        try {
            BulkDoubleArraySerializer.INSTANCE.serialize(o.sum, bytes);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot serialize a partial sum", ex);
        }
        out.emit(
                GatewayEvent.asyncPartialShard(
                                gateway,
                                o.first.round(),
                                key.shard(),
                                o.first.numShards(),
                                key.base(),
                                o.learners,
                                o.tasks,
                                o.weight,
                                bytes.getCopyOfBuffer())
                        .stampedAt(o.timestamp),
                o.timestamp);
        partialsEmitted++;
    }

    /** The sum of the values an asynchronous PARTIAL_SHARD record carries (a fresh array). */
    public static double[] asyncSumOf(GatewayEvent partial) {
        try {
            return BulkDoubleArraySerializer.INSTANCE.deserialize(
                    new DataInputDeserializer(partial.partial()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the partial sum of " + partial, e);
        }
    }

    private void noteRound(long round) {
        if (firstRound == Long.MIN_VALUE) {
            firstRound = round;
        }
    }

    private void fold(GatewayEvent e, long timestamp) {
        String learner = e.learnerId();
        if (!learner.equals(lastLearner)) {
            lastLearner = learner;
            lastWasDuplicate =
                    !folded.computeIfAbsent(e.round(), r -> new HashSet<>()).add(learner);
            if (!lastWasDuplicate) {
                updatesFolded++;
            }
        }
        if (lastWasDuplicate) {
            return; // a second copy of an update this gateway already sent on
        }
        Key key = new Key(e.round(), e.shard());
        Open o = open.get(key);
        if (o == null) {
            o = new Open();
            o.first = e;
            o.numShards = e.numShards();
            // Dense sums are doubles: their serialized size, so the buffer never grows.
            o.sizeHint =
                    e.values().isDense() && e.values().size() < (1 << 27)
                            ? e.values().size() * Double.BYTES + 64
                            : 4096;
            o.contributors = new ArrayList<>(4);
            open.put(key, o);
        } else {
            if (o.acc == null) {
                o.acc = rule.createAccumulator();
                rule.add(o.acc, o.first.learnerId(), o.first.values(), o.first.weight());
                o.first = null;
            }
            rule.add(o.acc, learner, e.values(), e.weight());
        }
        o.contributors.add(learner);
        o.weight += e.weight();
        o.unclipped += e.unclipped ? 1 : 0;
        o.timestamp = Math.max(o.timestamp, timestamp);
    }

    /** Emits the open partials (a lone update as itself) and starts over. */
    public void flush(Emitter out) {
        if (async) {
            flushAsync(out);
            return;
        }
        if (open.isEmpty()) {
            return;
        }
        Iterator<Map.Entry<Key, Open>> it = open.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Key, Open> entry = it.next();
            Open o = entry.getValue();
            if (o.acc == null) {
                out.emit(o.first, o.timestamp);
            } else {
                out.emit(
                        GatewayEvent.partialShard(
                                        gateway,
                                        entry.getKey().round(),
                                        entry.getKey().shard(),
                                        o.numShards,
                                        o.contributors,
                                        o.weight,
                                        o.unclipped,
                                        serialize(o.acc, o.sizeHint))
                                .stampedAt(o.timestamp),
                        o.timestamp);
                partialsEmitted++;
            }
            it.remove();
        }
    }

    private byte[] serialize(Object acc, int sizeHint) {
        try {
            DataOutputSerializer out = new DataOutputSerializer(sizeHint);
            serializer.serialize(acc, out);
            return out.getCopyOfBuffer();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialize a partial aggregate", e);
        }
    }

    /** The accumulator a PARTIAL_SHARD record carries. */
    public static <A> A accumulatorOf(GatewayEvent partial, AggregationRule<A> rule) {
        try {
            return rule.accumulatorSerializer()
                    .deserialize(new DataInputDeserializer(partial.partial()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a partial aggregate of " + partial, e);
        }
    }

    /** True if nothing is waiting to be emitted. */
    public boolean isEmpty() {
        return open.isEmpty() && asyncOpen.isEmpty();
    }

    /** PARTIAL_SHARD records emitted so far (a metric). */
    public long partialsEmitted() {
        return partialsEmitted;
    }

    /** Updates folded so far (a metric). */
    public long updatesFolded() {
        return updatesFolded;
    }

    /** Updates sent on marked foreign (their learner's home is another gateway; a metric). */
    public long foreignSent() {
        return foreignSent;
    }
}
