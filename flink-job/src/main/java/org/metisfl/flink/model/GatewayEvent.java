package org.metisfl.flink.model;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * A record a learner gateway emits into the job. A source has one output type, so this is one type
 * for twelve kinds: build one with the static factory of its kind ({@link #updateShard}, {@link
 * #roundOpened}, ...) and read it through the accessors, which check that the field belongs to the
 * record's kind. The public fields and no-argument constructor are for Flink's POJO serializer
 * (measured faster than a hand-written union serializer would need to be to matter: the model
 * values, the bulk of every record, are one {@link Payload} written in bulk either way); code
 * outside this class never sets them.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class GatewayEvent {

    /** What happened at the gateway. */
    public enum Kind {
        /**
         * A gateway started: where the model sink reaches its control endpoint ({@code gateway,
         * host, port, secret} = the control credential, {@code controlFingerprint} = the SHA-256 of
         * the endpoint's certificate, which the sink pins).
         */
        ANNOUNCE,
        /** A learner joined ({@code learnerId, learnerName, numExamples}). */
        JOINED,
        /** A learner left ({@code learnerId}). */
        LEFT,
        /** A learner's task stream opened at a gateway ({@code learnerId}). */
        CONNECTED,
        /** A learner's task stream closed without a Leave ({@code learnerId}). */
        DISCONNECTED,
        /** A learner's proposed initial model ({@code learnerId, tensors, values}). */
        INITIAL_MODEL,
        /**
         * A round started at a gateway ({@code round, shard, numShards, participantCount, quorum,
         * deadline}).
         */
        ROUND_OPENED,
        /**
         * One shard of an accepted update ({@code learnerId, round, shard, numShards, weight,
         * values}).
         */
        UPDATE_SHARD,
        /**
         * Training metrics of an accepted update ({@code learnerId, round, numExamples, metrics}).
         */
        TRAIN_REPORT,
        /** Metrics of an evaluation ({@code learnerId, round, numExamples, metrics}). */
        EVALUATION,
        /**
         * Asynchronous protocol: one shard of the global model a gateway started from ({@code
         * round} = its version, {@code shard, numShards, values}), so the aggregators know it.
         */
        MODEL_SHARD,
        /**
         * Krum: the updates of a round the coordinator selected ({@code round, shard,
         * participants}).
         */
        SELECTION,
        /**
         * A participant was dropped from a round ({@code learnerId, round, shard, numShards,
         * gateway, gateways}): every gateway sends one per shard, stamped under its stamping lock
         * and refusing the learner's updates for the round from then on, so once a shard has the
         * copies of all gateways it holds every update of the learner it will ever get.
         */
        PARTICIPANT_DROPPED,
        /**
         * Asynchronous protocol: gateway {@code gateway} serves model version {@code round} from
         * now on ({@code shard, numShards}). Every update it sends after this record was trained on
         * version {@code round - async.max-staleness} or later, so the aggregators know which
         * versions they must still keep.
         */
        MODEL_SERVED,
        /**
         * Local pre-aggregation: the partial aggregate of several accepted updates of one round at
         * one shard, folded by the gateway that accepted them ({@code round, shard, numShards,
         * weight} = their total weight, {@code participants} = the contributing learners, {@code
         * unclippedCount}, {@code partial} = the rule's accumulator, serialized with its
         * accumulator serializer). Stands for those updates' UPDATE_SHARD records at this shard.
         */
        PARTIAL_SHARD,
        /**
         * Threshold mode: a committee member's public key share ({@code learnerId, round} = the key
         * epoch, {@code partial} = the KeyShareSubmission's bytes without credentials), checked by
         * the gateway.
         */
        KEY_SHARE,
        /**
         * Threshold mode, t &lt; N: a member's sealed Shamir dealings ({@code learnerId, round} =
         * the key epoch, {@code partial} = the DealingsSubmission's bytes without credentials).
         */
        DEALINGS,
        /**
         * Threshold mode: a member's partial decryptions of a round's aggregate ({@code learnerId,
         * round, shard} = the attempt, {@code partial} = the partial shards, see {@link
         * ThresholdRecords}), checked by the gateway.
         */
        PARTIAL_DECRYPTION
    }

    private static final Set<Kind> HAS_GATEWAYS = EnumSet.of(Kind.PARTICIPANT_DROPPED);
    private static final Set<Kind> HAS_LEARNER_ID =
            EnumSet.of(
                    Kind.JOINED,
                    Kind.LEFT,
                    Kind.CONNECTED,
                    Kind.DISCONNECTED,
                    Kind.INITIAL_MODEL,
                    Kind.UPDATE_SHARD,
                    Kind.PARTIAL_SHARD,
                    Kind.TRAIN_REPORT,
                    Kind.EVALUATION,
                    Kind.PARTICIPANT_DROPPED,
                    Kind.KEY_SHARE,
                    Kind.DEALINGS,
                    Kind.PARTIAL_DECRYPTION);
    private static final Set<Kind> HAS_LEARNER_NAME = EnumSet.of(Kind.JOINED);
    private static final Set<Kind> HAS_NUM_EXAMPLES =
            EnumSet.of(Kind.JOINED, Kind.TRAIN_REPORT, Kind.EVALUATION);
    private static final Set<Kind> HAS_ROUND =
            EnumSet.of(
                    Kind.ROUND_OPENED,
                    Kind.UPDATE_SHARD,
                    Kind.TRAIN_REPORT,
                    Kind.EVALUATION,
                    Kind.MODEL_SHARD,
                    Kind.SELECTION,
                    Kind.PARTICIPANT_DROPPED,
                    Kind.PARTIAL_SHARD,
                    Kind.MODEL_SERVED,
                    Kind.KEY_SHARE,
                    Kind.DEALINGS,
                    Kind.PARTIAL_DECRYPTION);
    private static final Set<Kind> HAS_SHARD =
            EnumSet.of(
                    Kind.ROUND_OPENED,
                    Kind.UPDATE_SHARD,
                    Kind.MODEL_SHARD,
                    Kind.SELECTION,
                    Kind.PARTICIPANT_DROPPED,
                    Kind.PARTIAL_SHARD,
                    Kind.MODEL_SERVED,
                    Kind.PARTIAL_DECRYPTION);
    private static final Set<Kind> HAS_NUM_SHARDS =
            EnumSet.of(
                    Kind.ROUND_OPENED,
                    Kind.UPDATE_SHARD,
                    Kind.MODEL_SHARD,
                    Kind.SELECTION,
                    Kind.PARTICIPANT_DROPPED,
                    Kind.PARTIAL_SHARD,
                    Kind.MODEL_SERVED);
    private static final Set<Kind> HAS_WEIGHT = EnumSet.of(Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
    private static final Set<Kind> HAS_VALUES =
            EnumSet.of(Kind.INITIAL_MODEL, Kind.UPDATE_SHARD, Kind.MODEL_SHARD);
    private static final Set<Kind> HAS_PARTICIPANTS =
            EnumSet.of(Kind.SELECTION, Kind.PARTIAL_SHARD);
    private static final Set<Kind> HAS_PARTIAL =
            EnumSet.of(Kind.PARTIAL_SHARD, Kind.KEY_SHARE, Kind.DEALINGS, Kind.PARTIAL_DECRYPTION);
    private static final Set<Kind> HAS_PARTICIPANT_COUNT = EnumSet.of(Kind.ROUND_OPENED);
    private static final Set<Kind> HAS_QUORUM = EnumSet.of(Kind.ROUND_OPENED);
    private static final Set<Kind> HAS_DEADLINE = EnumSet.of(Kind.ROUND_OPENED);
    private static final Set<Kind> HAS_METRICS = EnumSet.of(Kind.TRAIN_REPORT, Kind.EVALUATION);
    private static final Set<Kind> HAS_TENSORS = EnumSet.of(Kind.INITIAL_MODEL);
    private static final Set<Kind> HAS_TASK_ID = EnumSet.of(Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
    private static final Set<Kind> HAS_BASE_VERSION =
            EnumSet.of(Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
    private static final Set<Kind> HAS_TASKS = EnumSet.of(Kind.PARTIAL_SHARD);
    private static final Set<Kind> HAS_HOST = EnumSet.of(Kind.ANNOUNCE);
    private static final Set<Kind> HAS_PORT = EnumSet.of(Kind.ANNOUNCE);
    private static final Set<Kind> HAS_SECRET = EnumSet.of(Kind.ANNOUNCE);

    public Kind kind;
    public int gateway;
    public String host;
    public int port;
    public String secret;
    public String controlFingerprint;
    public String learnerId;
    public String learnerName;
    public long numExamples;

    /** JOINED, threshold mode: the learner offers to sit on the decryption committee. */
    public boolean committeeEligible;

    public long round;
    public int shard;
    public int numShards;
    public double weight;
    public Payload values;
    public List<String> participants;

    /** A round opening: how many participants its plan has (the list stays at the gateways). */
    public int participantCount;

    public int quorum;
    public long deadline;

    /** A participant's drop: how many gateways send a copy of it. */
    public int gateways;

    public Map<String, Double> metrics;

    /**
     * UPDATE_SHARD under central DP: whether the update's delta was within the clip norm (the bit
     * adaptive clipping counts); the values are then the clipped delta, not the model.
     */
    public boolean unclipped;

    /**
     * UPDATE_SHARD with local pre-aggregation over several gateways: sent by a gateway that is not
     * the learner's home (the one that folds its updates), so a partial of the home gateway may
     * hold a copy of it; the aggregators hold it aside until the round closes.
     */
    public boolean foreign;

    /** PARTIAL_SHARD: how many of the folded updates were within the clip norm. */
    public int unclippedCount;

    /** PARTIAL_SHARD: the rule's serialized accumulator. */
    public byte[] partial;

    /**
     * Asynchronous PARTIAL_SHARD: the task of each folded update, in the order of {@code
     * participants} (one entry per update); null for a synchronous partial.
     */
    public List<String> tasks;

    /** ROUND_OPENED under central DP: the round's clip norm. */
    public double clipNorm;

    public List<TensorSpecInfo> tensors;

    /** Asynchronous protocol: the task an update answers (its identity) and its base version. */
    public String taskId;

    public long baseVersion;

    /** The gateway's timestamp of the record (its event time), kept where state loses it. */
    public long stamp;

    public GatewayEvent() {}

    /**
     * An empty record of {@code kind}, for Flink and for the tests of records the job must refuse;
     * the job's code uses the factories below.
     */
    public static GatewayEvent of(Kind kind) {
        GatewayEvent e = new GatewayEvent();
        e.kind = kind;
        return e;
    }

    /** Gateway {@code gateway} started and is reached at {@code host:port} with {@code secret}. */
    public static GatewayEvent announce(int gateway, String host, int port, String secret) {
        GatewayEvent e = of(Kind.ANNOUNCE);
        e.gateway = gateway;
        e.host = host;
        e.port = port;
        e.secret = secret;
        return e;
    }

    /** A learner joined at {@code gateway}. */
    public static GatewayEvent joined(
            int gateway, String learnerId, String learnerName, long numExamples) {
        GatewayEvent e = learnerEvent(Kind.JOINED, gateway, learnerId);
        e.learnerName = learnerName;
        e.numExamples = numExamples;
        return e;
    }

    /**
     * A learner left, or its task stream opened or closed ({@code LEFT, CONNECTED, DISCONNECTED}).
     */
    public static GatewayEvent learnerEvent(Kind kind, int gateway, String learnerId) {
        if (kind != Kind.LEFT
                && kind != Kind.CONNECTED
                && kind != Kind.DISCONNECTED
                && kind != Kind.JOINED) {
            throw new IllegalArgumentException(kind + " is not a learner event");
        }
        GatewayEvent e = of(kind);
        e.gateway = gateway;
        e.learnerId = learnerId;
        return e;
    }

    /**
     * Threshold mode: a member's key share or dealings ({@code round} = the epoch) or partial
     * decryptions ({@code round}, {@code attempt}), as checked by the gateway.
     */
    public static GatewayEvent threshold(
            Kind kind, int gateway, String learnerId, long round, int attempt, byte[] bytes) {
        if (kind != Kind.KEY_SHARE && kind != Kind.DEALINGS && kind != Kind.PARTIAL_DECRYPTION) {
            throw new IllegalArgumentException(kind + " is not a threshold record");
        }
        GatewayEvent e = of(kind);
        e.gateway = gateway;
        e.learnerId = learnerId;
        e.round = round;
        e.shard = kind == Kind.PARTIAL_DECRYPTION ? attempt : 0;
        e.partial = bytes;
        return e;
    }

    /** A learner's proposed initial model. */
    public static GatewayEvent initialModel(
            int gateway, String learnerId, List<TensorSpecInfo> tensors, Payload values) {
        GatewayEvent e = of(Kind.INITIAL_MODEL);
        e.gateway = gateway;
        e.learnerId = learnerId;
        e.tensors = tensors;
        e.values = values;
        return e;
    }

    /** Round {@code round} opened at a gateway, announced to shard {@code shard}. */
    public static GatewayEvent roundOpened(
            int gateway,
            long round,
            int shard,
            int numShards,
            int participantCount,
            int quorum,
            long deadline) {
        GatewayEvent e = of(Kind.ROUND_OPENED);
        e.gateway = gateway;
        e.round = round;
        e.shard = shard;
        e.numShards = numShards;
        e.participantCount = participantCount;
        e.quorum = quorum;
        e.deadline = deadline;
        return e;
    }

    /**
     * Shard {@code shard} of an accepted update for round {@code round} (asynchronous: the round of
     * its task), answering task {@code taskId} trained from model {@code baseVersion}.
     */
    public static GatewayEvent updateShard(
            int gateway,
            String learnerId,
            long round,
            int shard,
            int numShards,
            double weight,
            String taskId,
            long baseVersion,
            Payload values) {
        GatewayEvent e = of(Kind.UPDATE_SHARD);
        e.gateway = gateway;
        e.learnerId = learnerId;
        e.round = round;
        e.shard = shard;
        e.numShards = numShards;
        e.weight = weight;
        e.taskId = taskId;
        e.baseVersion = baseVersion;
        e.values = values;
        return e;
    }

    /** The training metrics of an accepted update ({@code TRAIN_REPORT}) or of an evaluation. */
    public static GatewayEvent metrics(
            Kind kind,
            int gateway,
            String learnerId,
            long round,
            long numExamples,
            Map<String, Double> metrics) {
        if (kind != Kind.TRAIN_REPORT && kind != Kind.EVALUATION) {
            throw new IllegalArgumentException(kind + " carries no metrics");
        }
        GatewayEvent e = of(kind);
        e.gateway = gateway;
        e.learnerId = learnerId;
        e.round = round;
        e.numExamples = numExamples;
        e.metrics = metrics;
        return e;
    }

    /**
     * Asynchronous: shard {@code shard} of model version {@code version} a gateway started from.
     */
    public static GatewayEvent modelShard(long version, int shard, int numShards, Payload values) {
        GatewayEvent e = of(Kind.MODEL_SHARD);
        e.round = version;
        e.shard = shard;
        e.numShards = numShards;
        e.values = values;
        return e;
    }

    /** The updates of round {@code round} the coordinator selected, for shard {@code shard}. */
    /** Gateway {@code gateway} serves model {@code version} from now on (asynchronous). */
    public static GatewayEvent modelServed(int gateway, long version, int shard, int numShards) {
        GatewayEvent e = of(Kind.MODEL_SERVED);
        e.gateway = gateway;
        e.round = version;
        e.shard = shard;
        e.numShards = numShards;
        return e;
    }

    public static GatewayEvent selection(
            int gateway, long round, int shard, int numShards, List<String> participants) {
        GatewayEvent e = of(Kind.SELECTION);
        e.gateway = gateway;
        e.round = round;
        e.shard = shard;
        e.numShards = numShards;
        e.participants = participants;
        return e;
    }

    /**
     * Gateway {@code gateway} (of {@code gateways}) dropped {@code learnerId} from round {@code
     * round}; one copy per shard.
     */
    public static GatewayEvent participantDropped(
            int gateway, int gateways, String learnerId, long round, int shard, int numShards) {
        GatewayEvent e = of(Kind.PARTICIPANT_DROPPED);
        e.gateway = gateway;
        e.gateways = gateways;
        e.learnerId = learnerId;
        e.round = round;
        e.shard = shard;
        e.numShards = numShards;
        return e;
    }

    /** Sets the gateway's timestamp (the record's event time), once, as the reader emits it. */
    /**
     * The partial aggregate of {@code contributors}' updates of {@code round} at {@code shard}
     * ({@code partial}: the rule's accumulator, serialized).
     */
    public static GatewayEvent partialShard(
            int gateway,
            long round,
            int shard,
            int numShards,
            List<String> contributors,
            double totalWeight,
            int unclippedCount,
            byte[] partial) {
        GatewayEvent e = of(Kind.PARTIAL_SHARD);
        e.gateway = gateway;
        e.round = round;
        e.shard = shard;
        e.numShards = numShards;
        e.participants = contributors;
        e.weight = totalWeight;
        e.unclippedCount = unclippedCount;
        e.partial = partial;
        return e;
    }

    /**
     * Asynchronous: the partial sum ({@code partial}: the values' sum as doubles, see {@code
     * PartialSums}) of {@code learners}' updates of {@code tasks} at {@code shard}, all trained on
     * model {@code baseVersion}. Its learner and task, which place it in a shard's order of
     * application with its stamp, are those of its last update (the one stamped latest).
     */
    public static GatewayEvent asyncPartialShard(
            int gateway,
            long round,
            int shard,
            int numShards,
            long baseVersion,
            List<String> learners,
            List<String> tasks,
            double totalWeight,
            byte[] sum) {
        if (learners.size() != tasks.size() || learners.isEmpty()) {
            throw new IllegalArgumentException(
                    "a partial of " + learners.size() + " learners and " + tasks.size() + " tasks");
        }
        GatewayEvent e =
                partialShard(gateway, round, shard, numShards, learners, totalWeight, 0, sum);
        e.baseVersion = baseVersion;
        e.tasks = tasks;
        e.learnerId = learners.get(learners.size() - 1);
        e.taskId = tasks.get(tasks.size() - 1);
        return e;
    }

    /** True for a partial sum of asynchronous updates ({@link #asyncPartialShard}). */
    public boolean isAsyncPartial() {
        return kind == Kind.PARTIAL_SHARD && tasks != null;
    }

    public GatewayEvent stampedAt(long stamp) {
        this.stamp = stamp;
        return this;
    }

    // Accessors: each checks that the field belongs to the record's kind.

    public Kind kind() {
        return kind;
    }

    public int gateway() {
        return gateway;
    }

    public String learnerId() {
        require("learnerId", HAS_LEARNER_ID);
        return learnerId;
    }

    public String learnerName() {
        require("learnerName", HAS_LEARNER_NAME);
        return learnerName;
    }

    public long numExamples() {
        require("numExamples", HAS_NUM_EXAMPLES);
        return numExamples;
    }

    /** The round (the model version for MODEL_SHARD). */
    public long round() {
        require("round", HAS_ROUND);
        return round;
    }

    public int shard() {
        require("shard", HAS_SHARD);
        return shard;
    }

    public int numShards() {
        require("numShards", HAS_NUM_SHARDS);
        return numShards;
    }

    public double weight() {
        require("weight", HAS_WEIGHT);
        return weight;
    }

    /** The model values (INITIAL_MODEL, UPDATE_SHARD, MODEL_SHARD). */
    public Payload values() {
        require("values", HAS_VALUES);
        return values;
    }

    public byte[] partial() {
        require("partial", HAS_PARTIAL);
        return partial;
    }

    public List<String> participants() {
        require("participants", HAS_PARTICIPANTS);
        return participants;
    }

    public int participantCount() {
        require("participantCount", HAS_PARTICIPANT_COUNT);
        return participantCount;
    }

    public int quorum() {
        require("quorum", HAS_QUORUM);
        return quorum;
    }

    public long deadline() {
        require("deadline", HAS_DEADLINE);
        return deadline;
    }

    public Map<String, Double> metrics() {
        require("metrics", HAS_METRICS);
        return metrics;
    }

    public List<TensorSpecInfo> tensors() {
        require("tensors", HAS_TENSORS);
        return tensors;
    }

    public String taskId() {
        require("taskId", HAS_TASK_ID);
        return taskId;
    }

    /** Asynchronous PARTIAL_SHARD: the folded updates' tasks, in the order of participants. */
    public List<String> tasks() {
        require("tasks", HAS_TASKS);
        return tasks;
    }

    public long baseVersion() {
        require("baseVersion", HAS_BASE_VERSION);
        return baseVersion;
    }

    /** How many gateways send a copy of a PARTICIPANT_DROPPED. */
    public int gateways() {
        require("gateways", HAS_GATEWAYS);
        return gateways;
    }

    public long stamp() {
        return stamp;
    }

    public String host() {
        require("host", HAS_HOST);
        return host;
    }

    public int port() {
        require("port", HAS_PORT);
        return port;
    }

    public String secret() {
        require("secret", HAS_SECRET);
        return secret;
    }

    private void require(String field, Set<Kind> kinds) {
        if (!kinds.contains(kind)) {
            throw new IllegalStateException("a " + kind + " record has no " + field);
        }
    }

    @Override
    public String toString() {
        return "GatewayEvent{"
                + kind
                + ", learner="
                + learnerId
                + ", round="
                + round
                + ", shard="
                + shard
                + "/"
                + numShards
                + "}";
    }
}
