package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.EvaluateTask;
import org.metisfl.proto.v1.RoundPlan;
import org.metisfl.proto.v1.Shutdown;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.TrainTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one gateway knows of the federation: the current global model (ready to stream, in chunks),
 * the current round's plan, the learners to evaluate, and the task streams of the learners
 * connected here. The model sink updates it with each directive; the learner service reads it. It
 * is rebuilt from the coordinator after a restart, so it is not checkpointed.
 */
public final class GatewayState {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayState.class);

    /** The global model as served to learners: its version, tensors and bytes. */
    public record ModelSnapshot(long version, List<TensorSpec> tensors, ModelChunks bytes) {

        /** The bytes in chunks of at most the gateway's chunk size, to send as they are. */
        public List<ByteString> chunks() {
            return bytes.chunks();
        }

        public long totalBytes() {
            return bytes.totalBytes();
        }
    }

    /** The round currently open at this gateway, and the participants dropped from it. */
    public record Plan(
            long round,
            Set<String> participants,
            long deadline,
            TrainTask train,
            Map<String, Long> localSteps,
            Set<String> dropped) {

        /** True if {@code learnerId} is a participant still expected to contribute. */
        boolean expects(String learnerId) {
            return participants.contains(learnerId) && !dropped.contains(learnerId);
        }

        /** The training task of one participant (its own local steps, if sized). */
        TrainTask trainTaskOf(String learnerId) {
            Long steps = localSteps.get(learnerId);
            return steps == null ? train : train.toBuilder().setLocalSteps(steps).build();
        }
    }

    /**
     * How many rounds the accepted-update ledger remembers: a resend of an update that counted is
     * answered DUPLICATE also after its round closed, for this many rounds.
     */
    static final int LEDGER_ROUNDS = 8;

    /** Longest wait for pending acknowledgements before the learners are told to shut down. */
    private static final long SHUTDOWN_WAIT_MS = 30_000;

    private final GatewayOptions config;
    private final int gatewayIndex;
    private final TokenAuthority tokens;
    private final StampedEventQueue queue;
    private final int chunkBytes;

    private volatile ModelSnapshot model;
    private volatile Plan plan;
    private volatile long evalVersion = -1;
    private volatile Set<String> evaluators = Set.of();
    private volatile boolean finished;
    private volatile String finishReason = "";

    private final Map<String, ServerCallStreamObserver<Task>> streams = new ConcurrentHashMap<>();

    /** (learner, round) of accepted updates → completes when the update is durable in the job. */
    private final Map<String, CompletableFuture<Void>> accepted = new ConcurrentHashMap<>();

    /** (learner, model version) of evaluations received. */
    private final Set<String> evaluated = ConcurrentHashMap.newKeySet();

    private volatile boolean initialModelTaken;
    private volatile boolean directiveSeen;
    private long selectionRound;

    public GatewayState(
            GatewayOptions config,
            int gatewayIndex,
            TokenAuthority tokens,
            StampedEventQueue queue) {
        this.config = config;
        this.gatewayIndex = gatewayIndex;
        this.tokens = tokens;
        this.queue = queue;
        this.chunkBytes = ModelCodec.chunkBytes(config.maxMessageBytes());
    }

    public GatewayOptions config() {
        return config;
    }

    public int gatewayIndex() {
        return gatewayIndex;
    }

    public TokenAuthority tokens() {
        return tokens;
    }

    public StampedEventQueue queue() {
        return queue;
    }

    public int chunkBytes() {
        return chunkBytes;
    }

    public ModelSnapshot model() {
        return model;
    }

    public Plan plan() {
        return plan;
    }

    public long evalVersion() {
        return evalVersion;
    }

    public boolean isEvaluator(String learnerId) {
        return evaluators.contains(learnerId);
    }

    public boolean isFinished() {
        return finished;
    }

    /**
     * True once the coordinator's first directive reached this gateway (after a start or a
     * restart). Until then the gateway holds its watermark, so no round's deadline can pass before
     * the round's current plan (a restart extends the deadline) is in the job.
     */
    public boolean directiveSeen() {
        return directiveSeen;
    }

    /** True while the federation waits for a learner's weights as its initial model. */
    public boolean initialModelWanted() {
        return config.initialModelFromLearner() && model == null && !initialModelTaken;
    }

    /** Claims the initial-model slot of this gateway; false if it was taken. */
    public synchronized boolean takeInitialModelSlot() {
        if (!initialModelWanted()) {
            return false;
        }
        initialModelTaken = true;
        return true;
    }

    public Map<String, CompletableFuture<Void>> accepted() {
        return accepted;
    }

    /** Marks an evaluation received; false if it was already. */
    public boolean markEvaluated(String learnerId, long version) {
        return evaluated.add(learnerId + "@" + version);
    }

    /** Identity of an update: (learner, round) when synchronous, (learner, task) when not. */
    static String updateKey(String learnerId, String roundOrTask) {
        return learnerId + "@" + roundOrTask;
    }

    /** Asynchronous: the outstanding training task of each learner, and its last update's key. */
    private final Map<String, Task> asyncTasks = new ConcurrentHashMap<>();

    private final Map<String, String> asyncLastUpdate = new ConcurrentHashMap<>();

    /**
     * Asynchronous: a learner's update was accepted; forget its previous one (bounded state) and
     * hand it its next task right away.
     */
    void onAsyncUpdateAccepted(String learnerId, String key) {
        String previous = asyncLastUpdate.put(learnerId, key);
        if (previous != null && !previous.equals(key)) {
            accepted.remove(previous);
        }
        asyncTasks.remove(learnerId);
        pushAsyncTask(learnerId);
    }

    /** Sends the learner its outstanding asynchronous task, or a new one on the newest model. */
    private void pushAsyncTask(String learnerId) {
        ServerCallStreamObserver<Task> stream = streams.get(learnerId);
        ModelSnapshot m = model;
        if (stream == null || m == null || finished) {
            return;
        }
        Task task =
                asyncTasks.computeIfAbsent(
                        learnerId,
                        id ->
                                Task.newBuilder()
                                        .setTaskId("a-" + tokens.newLearnerId().substring(8))
                                        .setRound(m.version())
                                        .setModelVersion(m.version())
                                        .setTrain(trainTask())
                                        .build());
        send(learnerId, stream, List.of(task));
    }

    /** The local work the federation's configuration asks of every training task. */
    private TrainTask trainTask() {
        return TrainTask.newBuilder()
                .setEpochs(config.trainEpochs())
                .setBatchSize(config.trainBatchSize())
                .setLearningRate(config.trainLearningRate())
                .setLocalSteps(config.trainLocalSteps())
                .setProximalMu(config.proximalMu())
                .build();
    }

    /** Registers a learner's task stream and sends it every task still outstanding. */
    public void connect(String learnerId, ServerCallStreamObserver<Task> stream) {
        ServerCallStreamObserver<Task> previous = streams.put(learnerId, stream);
        if (previous != null && previous != stream) {
            closeQuietly(previous);
        }
        connectivity(GatewayEvent.Kind.CONNECTED, learnerId);
        stream.setOnCancelHandler(
                () -> {
                    if (streams.remove(learnerId, stream)) {
                        connectivity(GatewayEvent.Kind.DISCONNECTED, learnerId);
                    }
                });
        if (finished) {
            sendShutdown(learnerId, stream);
            return;
        }
        pushTasks(learnerId, true, !config.asynchronous());
        if (config.asynchronous()) {
            pushAsyncTask(learnerId);
        }
    }

    /** Tells the coordinator a learner became reachable, or stopped being reachable, here. */
    private void connectivity(GatewayEvent.Kind kind, String learnerId) {
        if (finished) {
            return;
        }
        GatewayEvent e = GatewayEvent.of(kind);
        e.gateway = gatewayIndex;
        e.learnerId = learnerId;
        queue.offer(List.of(e), Long.MAX_VALUE, null);
    }

    public void disconnect(String learnerId) {
        ServerCallStreamObserver<Task> s = streams.remove(learnerId);
        if (s != null) {
            closeQuietly(s);
        }
    }

    public int connectedLearners() {
        return streams.size();
    }

    /**
     * Applies a directive of the model sink: new model, new round, evaluations, or the end.
     *
     * @param modelChunks the model's bytes as received (kept, not copied), or null if none
     */
    public void apply(DirectiveHeader header, List<ByteString> modelChunks) {
        List<StampedEventQueue.Batch> unused = null;
        Set<String> newEvaluators = Set.of();
        Set<String> newParticipants = Set.of();
        synchronized (this) {
            boolean firstModel = model == null;
            if (modelChunks != null
                    && (model == null || header.getModelVersion() >= model.version())) {
                ModelChunks bytes = ModelChunks.of(modelChunks, chunkBytes);
                model =
                        new ModelSnapshot(
                                header.getModelVersion(),
                                List.copyOf(header.getTensorsList()),
                                bytes);
                if (firstModel && config.asynchronous()) {
                    // The asynchronous aggregators fold updates into the model itself.
                    queue.offer(modelShards(header, bytes), Long.MAX_VALUE, null);
                }
            }
            if (header.getEvaluatorsCount() > 0 && header.getModelVersion() > evalVersion) {
                evalVersion = header.getModelVersion();
                evaluators = Set.copyOf(header.getEvaluatorsList());
                newEvaluators = evaluators;
            }
            if (header.hasPlan()
                    && plan != null
                    && header.getPlan().getRound() == plan.round()
                    && header.getPlan().getDeadlineUnixMs() > plan.deadline()) {
                // The same round with a later deadline (the job restarted): tell the shards.
                plan =
                        new Plan(
                                plan.round(),
                                plan.participants(),
                                header.getPlan().getDeadlineUnixMs(),
                                plan.train().toBuilder()
                                        .setDeadlineUnixMs(header.getPlan().getDeadlineUnixMs())
                                        .build(),
                                plan.localSteps(),
                                plan.dropped());
                queue.offer(roundOpened(header), Long.MAX_VALUE, null);
            }
            if (header.hasPlan() && (plan == null || header.getPlan().getRound() > plan.round())) {
                RoundPlan p = header.getPlan();
                plan =
                        new Plan(
                                p.getRound(),
                                Set.copyOf(p.getParticipantsList()),
                                p.getDeadlineUnixMs(),
                                trainTask().toBuilder()
                                        .setDeadlineUnixMs(p.getDeadlineUnixMs())
                                        .build(),
                                Map.copyOf(p.getLocalStepsMap()),
                                Set.of());
                newParticipants = plan.participants();
                pruneAcceptedBefore(plan.round() - LEDGER_ROUNDS);
                queue.offer(roundOpened(header), Long.MAX_VALUE, null);
                LOG.info(
                        "Gateway {}: round {} open with {} participants ({} connected here)",
                        gatewayIndex,
                        p.getRound(),
                        p.getParticipantsCount(),
                        streams.size());
            }
            if (header.hasPlan()
                    && plan != null
                    && header.getPlan().getRound() == plan.round()
                    && !plan.dropped().containsAll(header.getPlan().getDroppedList())) {
                dropParticipants(header);
            }
            if (header.getSelectionRound() > selectionRound) {
                selectionRound = header.getSelectionRound();
                List<GatewayEvent> selected = new ArrayList<>(header.getNumShards());
                for (int s = 0; s < header.getNumShards(); s++) {
                    GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.SELECTION);
                    e.gateway = gatewayIndex;
                    e.round = selectionRound;
                    e.shard = s;
                    e.numShards = header.getNumShards();
                    e.participants = header.getSelectionList();
                    selected.add(e);
                }
                queue.offer(selected, Long.MAX_VALUE, null);
            }
            directiveSeen = true;
            if (header.getFinished() && !finished) {
                finished = true;
                finishReason = header.getFinishReason();
            }
        }
        if (finished) {
            shutdownWhenDurable();
            return;
        }
        if (config.asynchronous()) {
            for (String learner : streams.keySet()) {
                if (!asyncTasks.containsKey(learner)) {
                    pushAsyncTask(learner);
                }
            }
        }
        Set<String> affected = new HashSet<>(newEvaluators);
        affected.addAll(newParticipants);
        for (String learner : affected) {
            if (streams.containsKey(learner)) {
                pushTasks(
                        learner,
                        newEvaluators.contains(learner),
                        newParticipants.contains(learner));
            }
        }
    }

    private void pushTasks(String learnerId, boolean evaluation, boolean training) {
        ServerCallStreamObserver<Task> stream = streams.get(learnerId);
        if (stream == null) {
            return;
        }
        List<Task> tasks = new ArrayList<>(2);
        long ev = evalVersion;
        if (evaluation
                && evaluators.contains(learnerId)
                && !evaluated.contains(learnerId + "@" + ev)) {
            tasks.add(
                    Task.newBuilder()
                            .setTaskId("r" + ev + "/evaluate")
                            .setRound(ev)
                            .setModelVersion(ev)
                            .setEvaluate(
                                    EvaluateTask.newBuilder()
                                            .setBatchSize(config.evaluationBatchSize()))
                            .build());
        }
        Plan p = plan;
        ModelSnapshot m = model;
        if (training
                && p != null
                && m != null
                && p.expects(learnerId)
                && !accepted.containsKey(updateKey(learnerId, Long.toString(p.round())))) {
            tasks.add(
                    Task.newBuilder()
                            .setTaskId("r" + p.round() + "/train")
                            .setRound(p.round())
                            .setModelVersion(m.version())
                            .setTrain(p.trainTaskOf(learnerId))
                            .build());
        }
        send(learnerId, stream, tasks);
    }

    private void send(String learnerId, ServerCallStreamObserver<Task> stream, List<Task> tasks) {
        if (tasks.isEmpty()) {
            return;
        }
        synchronized (stream) {
            try {
                for (Task t : tasks) {
                    stream.onNext(t);
                }
            } catch (RuntimeException e) {
                LOG.debug("Task stream of {} is gone: {}", learnerId, e.toString());
                streams.remove(learnerId, stream);
            }
        }
    }

    /**
     * Drops the participants the directive's plan newly lists as dropped: from now on this gateway
     * refuses their updates for the round (see {@link #offerRoundUpdate}), and it tells every shard
     * with one PARTICIPANT_DROPPED record each, stamped after every update of theirs it accepted.
     * Called under this object's lock, as {@link #offerRoundUpdate} runs.
     */
    private void dropParticipants(DirectiveHeader header) {
        Set<String> dropped = new HashSet<>(plan.dropped());
        List<GatewayEvent> events = new ArrayList<>();
        for (String learner : header.getPlan().getDroppedList()) {
            if (!plan.participants().contains(learner) || !dropped.add(learner)) {
                continue;
            }
            for (int s = 0; s < header.getNumShards(); s++) {
                GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.PARTICIPANT_DROPPED);
                e.gateway = gatewayIndex;
                e.gateways = config.gatewayParallelism();
                e.learnerId = learner;
                e.round = plan.round();
                e.shard = s;
                e.numShards = header.getNumShards();
                events.add(e);
            }
            LOG.info(
                    "Gateway {}: learner {} dropped from round {} (its task stream is gone)",
                    gatewayIndex,
                    learner,
                    plan.round());
        }
        plan =
                new Plan(
                        plan.round(),
                        plan.participants(),
                        plan.deadline(),
                        plan.train(),
                        plan.localSteps(),
                        Set.copyOf(dropped));
        if (!events.isEmpty()) {
            queue.offer(events, Long.MAX_VALUE, null);
        }
    }

    /**
     * Synchronous: stamps and enqueues the batch of {@code learnerId}'s update of {@code round} if
     * that round is still the one open here, its deadline has not passed and the learner was not
     * dropped from it; the check and the stamp are atomic with round changes and drops, so an
     * update enqueued here is in its round's aggregation at every shard.
     *
     * @return null if enqueued, else why not (the caller keeps the reservation)
     */
    synchronized String offerRoundUpdate(
            String learnerId,
            long round,
            List<GatewayEvent> batch,
            Runnable onDurable,
            IngestBudget.Reservation reservation) {
        Plan p = plan;
        if (p == null || p.round() != round) {
            return "round "
                    + round
                    + " closed before the whole update arrived"
                    + (p == null ? "" : " (the open round is " + p.round() + ")");
        }
        if (p.dropped().contains(learnerId)) {
            return "learner "
                    + learnerId
                    + " was dropped from round "
                    + round
                    + " (its task stream was gone longer than round.participant-grace)";
        }
        if (queue.offer(batch, p.deadline(), onDurable, reservation) == Long.MIN_VALUE) {
            return "round " + round + " closed at its deadline before the whole update arrived";
        }
        return null;
    }

    /** One ROUND_OPENED record per shard for the directive's plan. */
    private List<GatewayEvent> roundOpened(DirectiveHeader header) {
        RoundPlan p = header.getPlan();
        List<GatewayEvent> opened = new ArrayList<>(header.getNumShards());
        for (int s = 0; s < header.getNumShards(); s++) {
            GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ROUND_OPENED);
            e.gateway = gatewayIndex;
            e.round = p.getRound();
            e.shard = s;
            e.numShards = header.getNumShards();
            e.participantCount = p.getParticipantsCount();
            e.quorum = p.getQuorum();
            e.deadline = p.getDeadlineUnixMs();
            opened.add(e);
        }
        return opened;
    }

    /** Synchronous: forgets updates of rounds before {@code round} (bounded state). */
    private void pruneAcceptedBefore(long round) {
        accepted.keySet()
                .removeIf(
                        k -> {
                            String suffix = k.substring(k.lastIndexOf('@') + 1);
                            try {
                                return Long.parseLong(suffix) < round;
                            } catch (NumberFormatException e) {
                                return false;
                            }
                        });
        evaluated.removeIf(
                k -> {
                    try {
                        return Long.parseLong(k.substring(k.lastIndexOf('@') + 1)) < round - 1;
                    } catch (NumberFormatException e) {
                        return false;
                    }
                });
    }

    /** The model as MODEL_SHARD records, for the asynchronous aggregators' first version. */
    private static List<GatewayEvent> modelShards(DirectiveHeader header, ModelChunks bytes) {
        List<float[]> shards = bytes.slices(header.getShardSize());
        int numShards = header.getNumShards();
        List<GatewayEvent> out = new ArrayList<>(numShards);
        for (int s = 0; s < numShards; s++) {
            GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.MODEL_SHARD);
            e.round = header.getModelVersion();
            e.shard = s;
            e.numShards = numShards;
            e.values = s < shards.size() ? shards.get(s) : new float[0];
            out.add(e);
        }
        return out;
    }

    /**
     * Sends every learner its Shutdown once the updates this gateway accepted are durable (their
     * checkpoint completed and they were acknowledged): a learner keeps an update until it is
     * acknowledged, so it must not be told to stop before. Bounded by {@link #SHUTDOWN_WAIT_MS} in
     * case no checkpoint completes any more.
     */
    private void shutdownWhenDurable() {
        CompletableFuture<?>[] pending =
                accepted.values().stream()
                        .filter(f -> !f.isDone())
                        .toArray(CompletableFuture[]::new);
        CompletableFuture.allOf(pending)
                .completeOnTimeout(null, SHUTDOWN_WAIT_MS, TimeUnit.MILLISECONDS)
                .whenComplete(
                        (v, e) -> {
                            for (Map.Entry<String, ServerCallStreamObserver<Task>> s :
                                    streams.entrySet()) {
                                sendShutdown(s.getKey(), s.getValue());
                            }
                        });
    }

    private void sendShutdown(String learnerId, ServerCallStreamObserver<Task> stream) {
        synchronized (stream) {
            try {
                stream.onNext(
                        Task.newBuilder()
                                .setTaskId("shutdown")
                                .setShutdown(Shutdown.newBuilder().setReason(finishReason))
                                .build());
                stream.onCompleted();
            } catch (RuntimeException e) {
                LOG.debug("Task stream of {} is gone: {}", learnerId, e.toString());
            }
        }
        streams.remove(learnerId, stream);
    }

    private static void closeQuietly(ServerCallStreamObserver<Task> s) {
        synchronized (s) {
            try {
                s.onCompleted();
            } catch (RuntimeException ignored) {
                // the stream was already closed by its learner
            }
        }
    }

    /** Closes every task stream (the gateway shuts down). */
    public void closeAll() {
        for (ServerCallStreamObserver<Task> s : streams.values()) {
            closeQuietly(s);
        }
        streams.clear();
    }
}
