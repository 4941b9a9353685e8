package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.metisfl.crypto.HeContext;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.Payload;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.RoundPlan;
import org.metisfl.proto.v1.Task;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One gateway's view of the federation, in three parts: the {@link ModelBoard} (the model served
 * for downloads), the {@link TaskDispatch} (task streams, the open round, evaluations) and the
 * {@link UpdateLedger} (accepted updates awaiting durability, evaluations received). It applies the
 * model sink's directives to them and tells the job what the gateway learns (round openings per
 * shard, Krum's selection, task streams opened and closed) through the {@link StampedEventQueue}.
 * It is rebuilt from the coordinator after a restart, so it is not checkpointed.
 */
public final class GatewayState {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayState.class);

    /**
     * How many rounds the accepted-update ledger remembers: a resend of an update that counted is
     * answered DUPLICATE also after its round closed, for this many rounds.
     */
    static final int LEDGER_ROUNDS = 8;

    private final GatewayOptions config;
    private final int gatewayIndex;
    private final TokenAuthority tokens;
    private final LearnerAuthentication authentication;
    private final StampedEventQueue queue;
    private final ModelBoard board;

    /**
     * Orders the application of directives, which arrive from several senders with the model path
     * (the coordinator's sink and each shard aggregator's): a PUBLISH waiting for its shards must
     * not be overtaken by a later one applied on another thread.
     */
    private final Object directiveLock = new Object();

    private final ShardedModel shardedModel = new ShardedModel();
    private final UpdateLedger ledger;
    private final TaskDispatch dispatch;
    private final UpdateClipper clipper = new UpdateClipper();
    private final GatewayMetrics metrics = new GatewayMetrics();
    private final UploadLimiter uploads;
    private final JoinLimiter joins;
    private final LearnerDirectory directory = new LearnerDirectory(MAX_DECLARATIONS);

    /**
     * What each learner that joined at this gateway declared as its training examples (the bound of
     * its updates' weight, see {@link UpdateReceiver}). Bounded: at most {@link #MAX_DECLARATIONS}
     * learners, the oldest joins forgotten first; a forgotten learner, one that joined at another
     * gateway or before this gateway (re)started, has no bound here.
     */
    static final int MAX_DECLARATIONS = 1 << 18;

    private final Map<String, Long> declaredExamples =
            new LinkedHashMap<>(16, 0.75f, false) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
                    return size() > MAX_DECLARATIONS;
                }
            };

    /** Threshold mode's keying and decryption at this gateway; null otherwise. */
    private final ThresholdGate threshold;

    private volatile boolean directiveSeen;

    /**
     * Asynchronous: what every task id this gateway run hands out starts with, so that an update
     * can tell whether its task came from this run or from before a restart: the gateway's index
     * (no two gateways share a prefix) and 64 random bits drawn per run (two runs of one gateway
     * share it with probability 2^-64). The run's sequence number of the task follows it (from 1,
     * in the order tasks are handed out), which local pre-aggregation relies on (see {@code
     * PartialSums}).
     */
    private final String taskIdPrefix;

    /** The sequence number of the latest task this run handed out. */
    private final AtomicLong tasksIssued = new AtomicLong();

    /**
     * Asynchronous: the newest version whose model is the same in every run of the job, so far as
     * this gateway knows: the version of the model its first directive put up (-1 if that directive
     * had none). Until every gateway has seen a directive none emits a watermark, so no aggregator
     * makes a version in this run before it: the first model a gateway gets is one the checkpoint
     * the job started from holds. A version after it may have been made before the restart from
     * other updates, and made again since from others.
     */
    private volatile long sameInEveryRun = -1;

    private volatile Encryption encryption;
    private long selectionRound;

    public GatewayState(
            GatewayOptions config,
            int gatewayIndex,
            TokenAuthority tokens,
            StampedEventQueue queue) {
        this(config, gatewayIndex, tokens, queue, System::nanoTime);
    }

    /** As above, with the clock of the upload and join limits (nanoseconds; tests). */
    GatewayState(
            GatewayOptions config,
            int gatewayIndex,
            TokenAuthority tokens,
            StampedEventQueue queue,
            java.util.function.LongSupplier nanoClock) {
        this.config = config;
        this.gatewayIndex = gatewayIndex;
        this.tokens = tokens;
        this.authentication = new LearnerAuthentication(tokens);
        this.queue = queue;
        this.uploads = new UploadLimiter(config.limits(), nanoClock);
        this.joins = new JoinLimiter(config.limits(), nanoClock);
        this.board =
                new ModelBoard(
                        ModelCodec.chunkBytes(config.maxMessageBytes()),
                        config.initialModelFromLearner());
        this.ledger = new UpdateLedger();
        this.taskIdPrefix = "a-" + gatewayIndex + "-" + tokens.newLearnerId().substring(8) + "-";
        this.threshold = config.threshold() == null ? null : new ThresholdGate(config.threshold());
        this.dispatch =
                new TaskDispatch(
                        config,
                        board,
                        ledger,
                        () -> taskIdPrefix + tasksIssued.incrementAndGet(),
                        new TaskDispatch.StreamListener() {
                            @Override
                            public void connected(String learnerId) {
                                connectivity(GatewayEvent.Kind.CONNECTED, learnerId);
                            }

                            @Override
                            public void disconnected(String learnerId) {
                                connectivity(GatewayEvent.Kind.DISCONNECTED, learnerId);
                            }
                        });
        if (threshold != null) {
            dispatch.committeeTasks(threshold::tasksFor);
        }
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

    public LearnerAuthentication authentication() {
        return authentication;
    }

    /** Uploads in flight, per gateway and per learner, and their timeouts. */
    UploadLimiter uploads() {
        return uploads;
    }

    /** Join rate and learners admitted at once. */
    JoinLimiter joins() {
        return joins;
    }

    /** The learners admitted here, and the revocations made here not yet published. */
    public LearnerDirectory directory() {
        return directory;
    }

    /**
     * Refuses the learner's tokens from now on at this gateway (every RPC, and an upload in flight
     * at its last byte) and forgets its place in the join limits; the caller closes its task stream
     * ({@link #disconnect}) once it told the job why. With {@code publish}, the revocation was made
     * here (a Leave, or the operator's command) and is to be told to every other gateway. Returns
     * false if the learner was already revoked here.
     */
    public boolean revoke(String learnerId, boolean publish) {
        boolean fresh = !tokens.isRevoked(learnerId);
        tokens.revoke(learnerId);
        joins.removed(learnerId);
        if (publish && fresh) {
            directory.publish(learnerId);
        }
        return fresh;
    }

    /** True if the learner's task stream is open here. */
    boolean isConnected(String learnerId) {
        return dispatch.isConnected(learnerId);
    }

    /**
     * Ends the uploads that overstayed their idle timeout or minimum rate (the gateway's timer).
     */
    public void checkUploadTimeouts() {
        uploads.check();
    }

    public StampedEventQueue queue() {
        return queue;
    }

    /** Central DP: clips accepted updates against the current model. */
    UpdateClipper clipper() {
        return clipper;
    }

    public ModelBoard board() {
        return board;
    }

    /**
     * What a learner of a CKKS federation must use (backend, parameter hash, preset, shard size,
     * key id if known), for JoinResponse; null for a plaintext federation.
     */
    public Encryption encryption() {
        if (!config.encrypted()) {
            return null;
        }
        if (threshold != null) {
            HeContext he = he();
            String keyId = threshold.keyId();
            return Encryption.newBuilder()
                    .setBackendId(he.backendId())
                    .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                    .setPreset(config.hePreset())
                    .setShardSize(config.shardSize())
                    .setKeyId(keyId == null ? "" : keyId)
                    .setThreshold(threshold.info())
                    .build();
        }
        Encryption e = encryption;
        if (e == null) {
            HeContext he = he();
            e =
                    Encryption.newBuilder()
                            .setBackendId(he.backendId())
                            .setParameterHash(HexFormat.of().formatHex(he.parameterHash()))
                            .setPreset(config.hePreset())
                            .setShardSize(config.shardSize())
                            .setKeyId(config.heKeyId().orElse(""))
                            .setDelta(config.encryptedDeltas())
                            .build();
            encryption = e;
        }
        return e;
    }

    /**
     * What learners are told of an encrypted model: the federation's {@link #encryption()} with the
     * model's shard byte lengths from the sink; null for a plaintext model.
     */
    private Encryption servedEncryption(DirectiveHeader header) {
        if (!header.hasEncryption()) {
            return null;
        }
        Encryption base = encryption();
        if (base == null
                || !base.getBackendId().equals(header.getEncryption().getBackendId())
                || !base.getParameterHash().equals(header.getEncryption().getParameterHash())) {
            LOG.warn(
                    "Gateway {}: model v{} is encrypted with backend {} / parameter hash {}, not"
                            + " the federation's; serving it as it is",
                    gatewayIndex,
                    header.getModelVersion(),
                    header.getEncryption().getBackendId(),
                    header.getEncryption().getParameterHash());
            return header.getEncryption();
        }
        return base.toBuilder()
                .addAllShardBytes(header.getEncryption().getShardBytesList())
                .build();
    }

    /** Threshold mode's part of this gateway, or null. */
    ThresholdGate threshold() {
        return threshold;
    }

    /**
     * The key an encrypted update must be under (hex): the committee's joint key in threshold mode,
     * else the public parameters' key if the job has them; null means not checked.
     */
    String updateKeyId() {
        if (threshold != null) {
            return threshold.keyId();
        }
        return config.heKeyId().orElse(null);
    }

    /** Threshold mode: a member's key share, dealings or partial decryptions enter the job. */
    void offerThreshold(GatewayEvent e) {
        queue.offer(List.of(e), Long.MAX_VALUE, null);
    }

    /** The federation's HE context (parameters, no key); only for a CKKS federation. */
    HeContext he() {
        return HeContexts.of(config.heBackend(), config.hePreset());
    }

    /** Bytes of updates admitted to the ingest budget and not yet emitted. */
    public long ingestReservedBytes() {
        return queue.budget().reservedBytes();
    }

    /** Uploads in flight: started, not yet answered, refused, timed out or cancelled. */
    public int uploadsInFlight() {
        return uploads.inFlight();
    }

    /** Uploads waiting for room in the ingest budget. */
    public int ingestWaiting() {
        return queue.budget().waiting();
    }

    /** Counters for the metric system. */
    public GatewayMetrics metrics() {
        return metrics;
    }

    public UpdateLedger ledger() {
        return ledger;
    }

    public TaskDispatch dispatch() {
        return dispatch;
    }

    /** The model served for downloads, or null before the job published one. */
    public ModelBoard.ModelSnapshot model() {
        return board.current();
    }

    /** The open round, or null before the job opened one. */
    public TaskDispatch.Plan plan() {
        return dispatch.plan();
    }

    public boolean isFinished() {
        return dispatch.isFinished();
    }

    /**
     * True once the coordinator's first directive reached this gateway (after a start or a
     * restart). Until then the gateway holds its watermark, so no round's deadline can pass before
     * the round's current plan (a restart extends the deadline) is in the job.
     */
    public boolean directiveSeen() {
        return directiveSeen;
    }

    /** Remembers the training examples a learner declared when it joined here. */
    void declareExamples(String learnerId, long examples) {
        synchronized (declaredExamples) {
            declaredExamples.put(learnerId, examples);
        }
    }

    /** The training examples {@code learnerId} declared at join here, or -1 if unknown. */
    long declaredExamples(String learnerId) {
        synchronized (declaredExamples) {
            Long n = declaredExamples.get(learnerId);
            return n == null ? -1 : n;
        }
    }

    /** Registers a learner's task stream and sends it every task still outstanding. */
    public void connect(String learnerId, ServerCallStreamObserver<Task> stream) {
        dispatch.connect(learnerId, stream);
    }

    /** Closes a learner's task stream (it left). */
    public void disconnect(String learnerId) {
        dispatch.disconnect(learnerId);
    }

    public int connectedLearners() {
        return dispatch.connectedLearners();
    }

    /** Closes every task stream (the gateway shuts down). */
    public void closeAll() {
        dispatch.closeAll();
    }

    /**
     * Asynchronous: a learner's update was accepted; forget its previous one once that is durable
     * (bounded state), hand the learner its next task right away (see {@link
     * TaskDispatch#onAsyncUpdateAccepted}) and count the update as awaiting acknowledgement until
     * {@code durable} completes.
     */
    void onAsyncUpdateAccepted(String learnerId, String key, CompletableFuture<Void> durable) {
        ledger.acceptedAsync(learnerId, key);
        dispatch.onAsyncUpdateAccepted(learnerId);
        durable.whenComplete((v, e) -> dispatch.onAsyncUpdateDurable(learnerId));
    }

    /**
     * Asynchronous: a learner's update for {@code taskId} was refused for good; the learner gets a
     * new task if that was its outstanding one (see {@link TaskDispatch#onAsyncUpdateRefused}).
     */
    void onAsyncUpdateRefused(String learnerId, String taskId) {
        dispatch.onAsyncUpdateRefused(learnerId, taskId);
    }

    /**
     * True if {@code taskId} is an asynchronous task this gateway run handed out (task ids carry
     * the run): only this run can have emitted an update of it, which local pre-aggregation relies
     * on (see {@code PartialSums}).
     */
    public boolean handedOutThisRun(String taskId) {
        if (taskId == null || !taskId.startsWith(taskIdPrefix)) {
            return false;
        }
        long n = PartialSums.taskSequence(taskId);
        return n > 0
                && taskId.length() == taskIdPrefix.length() + Long.toString(n).length()
                && n <= tasksIssued.get();
    }

    /**
     * Asynchronous: why an update of {@code taskId} trained on model version {@code baseVersion}
     * cannot count, because that model may be lost, or null if it can. A task handed out before the
     * job restarted (another run of this gateway, or of another gateway) may be on a version made
     * after the checkpoint the job restarted from: the aggregators make that version again, from
     * the updates they get now, maybe in another order, and an update's delta from the model the
     * new version is would carry the difference between the two into the model (a learner's updates
     * counted twice, another's taken out). Such a version is newer than the first model this
     * gateway run served; a task of this run, or on a model the checkpoint held, is safe.
     */
    String lostBaseModel(String taskId, long baseVersion) {
        if (taskId.startsWith(taskIdPrefix) || baseVersion <= sameInEveryRun) {
            return null;
        }
        return "the update was trained on model version "
                + baseVersion
                + " of task "
                + taskId
                + ", handed out before the job restarted from a checkpoint that holds versions up"
                + " to "
                + sameInEveryRun
                + " only: version "
                + baseVersion
                + " is made again from the updates that come now, so an update trained on the"
                + " lost one cannot count";
    }

    /** Tells the coordinator a learner became reachable, or stopped being reachable, here. */
    private void connectivity(GatewayEvent.Kind kind, String learnerId) {
        if (dispatch.isFinished()) {
            return;
        }
        queue.offer(
                List.of(GatewayEvent.learnerEvent(kind, gatewayIndex, learnerId)),
                Long.MAX_VALUE,
                null);
    }

    /**
     * Applies a directive of the model sink: new model, new round, evaluations, or the end.
     *
     * @param modelChunks the model's bytes as received (kept, not copied), or null if none
     */
    public void apply(DirectiveHeader header, List<ByteString> modelChunks) {
        synchronized (directiveLock) {
            try {
                applyLocked(header, modelChunks);
            } finally {
                if (dispatch.isFinished()) {
                    shardedModel.end();
                }
            }
        }
    }

    /** How many model versions have shards waiting here for their PUBLISH (a test's view). */
    int heldModelVersions() {
        synchronized (directiveLock) {
            return shardedModel.heldVersions();
        }
    }

    /** Applies a directive under the directive lock (see {@link #apply}). */
    private void applyLocked(DirectiveHeader header, List<ByteString> modelChunks) {
        if (!header.hasModelShard() && !header.getModelInShards()) {
            applyNow(header, modelChunks);
            return;
        }
        // The model path: shards from the aggregators' sinks, the PUBLISH from the
        // coordinator's, in any order; the PUBLISH takes effect once its model is complete.
        ModelBoard.ModelSnapshot served = board.current();
        long servedVersion = served == null ? -1 : served.version();
        if (header.hasModelShard()) {
            shardedModel.addShard(
                    header.getModelVersion(),
                    header.getModelShard().getIndex(),
                    modelChunks,
                    header.hasEncryption() ? header.getEncryption() : null,
                    servedVersion);
        } else if (header.getModelVersion() <= servedVersion) {
            applyNow(header, null); // the model it names is served already
            return;
        } else {
            shardedModel.publish(header);
        }
        ShardedModel.Ready ready = shardedModel.takeReady();
        if (ready != null) {
            applyNow(ready.publish(), ready.chunks());
        }
    }

    private void applyNow(DirectiveHeader header, List<ByteString> modelChunks) {
        Set<String> newEvaluators = Set.of();
        Set<String> newParticipants = Set.of();
        Set<String> committee = Set.of();
        synchronized (this) {
            if (threshold != null && header.hasThreshold()) {
                committee = threshold.apply(header.getThreshold());
            }
            ModelBoard.ModelSnapshot before = board.current();
            if (modelChunks != null) {
                ModelBoard.ModelSnapshot m =
                        board.offer(
                                header.getModelVersion(),
                                header.getTensorsList(),
                                modelChunks,
                                servedEncryption(header));
                if (m != null && before == null && config.modelToAggregators()) {
                    // The asynchronous aggregators fold updates into the model itself; with the
                    // model path a server optimizer steps from it at each shard.
                    queue.offer(
                            m.encrypted()
                                    ? encryptedModelShards(gatewayIndex, header, m)
                                    : modelShards(gatewayIndex, header, m.bytes()),
                            Long.MAX_VALUE,
                            null);
                } else if (m != null
                        && before != null
                        && config.asynchronous()
                        && m.version() > before.version()) {
                    // Stamped under this lock, which async admissions take too: updates after
                    // it are at most async.max-staleness behind this version.
                    queue.offer(modelServed(header), Long.MAX_VALUE, null);
                }
            }
            if (header.getEvaluatorsCount() > 0
                    && header.getModelVersion() > dispatch.evalVersion()) {
                newEvaluators =
                        dispatch.evaluate(
                                header.getModelVersion(), Set.copyOf(header.getEvaluatorsList()));
            }
            TaskDispatch.Plan plan = dispatch.plan();
            if (header.hasPlan()
                    && plan != null
                    && header.getPlan().getRound() == plan.round()
                    && header.getPlan().getDeadlineUnixMs() > plan.deadline()) {
                // The same round with a later deadline (the job restarted): tell the shards.
                dispatch.extendDeadline(header.getPlan().getDeadlineUnixMs());
                queue.offer(roundOpened(header), Long.MAX_VALUE, null);
            }
            if (header.hasPlan() && (plan == null || header.getPlan().getRound() > plan.round())) {
                RoundPlan p = header.getPlan();
                TaskDispatch.Plan opened =
                        new TaskDispatch.Plan(
                                p.getRound(),
                                Set.copyOf(p.getParticipantsList()),
                                p.getDeadlineUnixMs(),
                                dispatch.trainTask(p.getTrain().getClipNorm()).toBuilder()
                                        .setDeadlineUnixMs(p.getDeadlineUnixMs())
                                        .setKeyId(
                                                threshold == null || threshold.keyId() == null
                                                        ? ""
                                                        : threshold.keyId())
                                        .build(),
                                Map.copyOf(p.getLocalStepsMap()),
                                Set.of(),
                                p.getTrain().getClipNorm());
                dispatch.open(opened);
                newParticipants = opened.participants();
                ledger.forgetBefore(opened.round() - LEDGER_ROUNDS);
                queue.offer(roundOpened(header), Long.MAX_VALUE, null);
                LOG.info(
                        "Gateway {}: round {} open with {} participants ({} connected here)",
                        gatewayIndex,
                        p.getRound(),
                        p.getParticipantsCount(),
                        dispatch.connectedLearners());
            }
            TaskDispatch.Plan current = dispatch.plan();
            if (header.hasPlan()
                    && current != null
                    && header.getPlan().getRound() == current.round()
                    && !current.dropped().containsAll(header.getPlan().getDroppedList())) {
                dropParticipants(header, current);
            }
            if (!config.asynchronous()
                    && header.getCountedRound() > 0
                    && (current == null
                            || header.getCountedRound() >= current.round() - LEDGER_ROUNDS)) {
                // Updates that counted, wherever they were sent: a resend here is a DUPLICATE.
                String round = Long.toString(header.getCountedRound());
                for (String learner : header.getCountedList()) {
                    ledger.counted(UpdateLedger.updateKey(learner, round));
                }
            }
            if (header.getSelectionRound() > selectionRound) {
                selectionRound = header.getSelectionRound();
                queue.offer(selection(header), Long.MAX_VALUE, null);
            }
            if (!directiveSeen) {
                ModelBoard.ModelSnapshot first = board.current();
                sameInEveryRun = modelChunks != null && first != null ? first.version() : -1;
            }
            directiveSeen = true;
            if (header.getFinished()) {
                dispatch.finish(header.getFinishReason());
            }
        }
        if (dispatch.isFinished()) {
            dispatch.shutdownWhenDurable();
            return;
        }
        // Committee tasks first: a member combines its dealings before it trains.
        dispatch.pushCommitteeTasks(committee);
        dispatch.dispatch(newEvaluators, newParticipants);
    }

    /**
     * Drops the participants the directive's plan newly lists as dropped: from now on this gateway
     * refuses their updates for the round (see {@link #offerRoundUpdate}), and it tells every shard
     * with one PARTICIPANT_DROPPED record each, stamped after every update of theirs it accepted.
     * Called under this object's lock, as {@link #offerRoundUpdate} runs.
     */
    private void dropParticipants(DirectiveHeader header, TaskDispatch.Plan plan) {
        Set<String> dropped = new HashSet<>(plan.dropped());
        List<GatewayEvent> events = new ArrayList<>();
        for (String learner : header.getPlan().getDroppedList()) {
            if (!plan.participants().contains(learner) || !dropped.add(learner)) {
                continue;
            }
            for (int s = 0; s < header.getNumShards(); s++) {
                events.add(
                        GatewayEvent.participantDropped(
                                gatewayIndex,
                                config.gatewayParallelism(),
                                learner,
                                plan.round(),
                                s,
                                header.getNumShards()));
            }
            LOG.info(
                    "Gateway {}: learner {} dropped from round {} (its task stream is gone)",
                    gatewayIndex,
                    learner,
                    plan.round());
        }
        dispatch.drop(dropped);
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
        TaskDispatch.Plan p = dispatch.plan();
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

    /**
     * Asynchronous: enqueues an accepted update's records unless it is now more than {@code
     * async.max-staleness} versions behind the model this gateway serves (a newer model may have
     * come while its bytes arrived). The check and the stamp are atomic with {@link #apply}'s
     * MODEL_SERVED records, so every aggregator still keeps the version the update was trained on
     * and counts it.
     *
     * @return null if enqueued, else why not (the caller keeps the reservation)
     */
    synchronized String offerAsyncUpdate(
            long baseVersion,
            List<GatewayEvent> batch,
            Runnable onDurable,
            IngestBudget.Reservation reservation) {
        if (dispatch.isFinished()) {
            // Checked under the lock the end is applied under: an update accepted here is one the
            // Shutdown waits for (its header came before the end, its last byte after).
            return "the federation is over";
        }
        ModelBoard.ModelSnapshot model = board.current();
        long stale = model == null ? 0 : model.version() - baseVersion;
        if (stale > config.asyncMaxStaleness()) {
            return "the update was trained on model version "
                    + baseVersion
                    + ", and version "
                    + model.version()
                    + " came while it arrived: "
                    + stale
                    + " versions behind (async.max-staleness is "
                    + config.asyncMaxStaleness()
                    + ")";
        }
        queue.offer(batch, Long.MAX_VALUE, onDurable, reservation);
        return null;
    }

    /** One ROUND_OPENED record per shard for the directive's plan. */
    private List<GatewayEvent> roundOpened(DirectiveHeader header) {
        RoundPlan p = header.getPlan();
        List<GatewayEvent> opened = new ArrayList<>(header.getNumShards());
        for (int s = 0; s < header.getNumShards(); s++) {
            opened.add(
                    GatewayEvent.roundOpened(
                            gatewayIndex,
                            p.getRound(),
                            s,
                            header.getNumShards(),
                            p.getParticipantsCount(),
                            p.getQuorum(),
                            p.getDeadlineUnixMs()));
            // Central DP: the round's clip norm, for the noise on the sum.
            opened.get(s).clipNorm = p.getTrain().getClipNorm();
        }
        return opened;
    }

    /** One SELECTION record per shard: Krum's choice for the round. */
    private List<GatewayEvent> selection(DirectiveHeader header) {
        List<GatewayEvent> selected = new ArrayList<>(header.getNumShards());
        for (int s = 0; s < header.getNumShards(); s++) {
            selected.add(
                    GatewayEvent.selection(
                            gatewayIndex,
                            selectionRound,
                            s,
                            header.getNumShards(),
                            header.getSelectionList()));
        }
        return selected;
    }

    /**
     * An encrypted model as MODEL_SHARD records of ciphertext payloads (each shard's
     * ShardCiphertexts bytes as served, cut by the model's shard byte lengths), for the
     * asynchronous aggregators' first version (FedBuff over ciphertexts).
     */
    private static List<GatewayEvent> encryptedModelShards(
            int gatewayIndex, DirectiveHeader header, ModelBoard.ModelSnapshot m) {
        Encryption e = m.encryption();
        ByteString all = ByteString.copyFrom(m.chunks());
        long values = 0;
        for (org.metisfl.proto.v1.TensorSpec t : header.getTensorsList()) {
            values += ModelCodec.fromProto(t).size();
        }
        int numShards = header.getNumShards();
        int shardSize = header.getShardSize();
        List<GatewayEvent> out = new ArrayList<>(numShards);
        long offset = 0;
        for (int s = 0; s < numShards; s++) {
            long length = s < e.getShardBytesCount() ? e.getShardBytes(s) : 0;
            int shardValues = (int) Math.max(0, Math.min(shardSize, values - (long) s * shardSize));
            byte[] bytes = all.substring((int) offset, (int) (offset + length)).toByteArray();
            offset += length;
            out.add(
                    GatewayEvent.modelShard(
                            header.getModelVersion(),
                            s,
                            numShards,
                            Payload.ciphertext(
                                    e.getBackendId(), e.getParameterHash(), shardValues, bytes)));
            out.get(s).gateway = gatewayIndex;
        }
        return out;
    }

    /** One MODEL_SERVED record per shard: this gateway serves the directive's model now. */
    private List<GatewayEvent> modelServed(DirectiveHeader header) {
        int numShards = header.getNumShards();
        List<GatewayEvent> out = new ArrayList<>(numShards);
        for (int s = 0; s < numShards; s++) {
            out.add(GatewayEvent.modelServed(gatewayIndex, header.getModelVersion(), s, numShards));
        }
        return out;
    }

    /** The model as MODEL_SHARD records, for the asynchronous aggregators' first version. */
    private static List<GatewayEvent> modelShards(
            int gatewayIndex, DirectiveHeader header, ModelChunks bytes) {
        List<float[]> shards = bytes.slices(header.getShardSize());
        int numShards = header.getNumShards();
        List<GatewayEvent> out = new ArrayList<>(numShards);
        for (int s = 0; s < numShards; s++) {
            out.add(
                    GatewayEvent.modelShard(
                            header.getModelVersion(),
                            s,
                            numShards,
                            Payload.dense(s < shards.size() ? shards.get(s) : new float[0])));
            out.get(s).gateway = gatewayIndex;
        }
        return out;
    }
}
