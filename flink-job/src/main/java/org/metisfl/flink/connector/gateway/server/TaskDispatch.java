package org.metisfl.flink.connector.gateway.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.metisfl.flink.config.FederationOptions.ClipOn;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.config.PrivacyOptions;
import org.metisfl.proto.v1.EvaluateTask;
import org.metisfl.proto.v1.Shutdown;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.TrainTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task streams of the learners connected to this gateway and what they are asked to do: the
 * open round's plan (who trains, until when, with how many local steps), the evaluation of the
 * newest evaluated model, the outstanding asynchronous task of each learner, and at the end the
 * Shutdown, sent only once every accepted update is durable.
 */
public final class TaskDispatch {
    private static final Logger LOG = LoggerFactory.getLogger(TaskDispatch.class);

    /** Longest wait for pending acknowledgements before the learners are told to shut down. */
    static final long SHUTDOWN_WAIT_MS = 30_000;

    /** The round currently open at this gateway, and the participants dropped from it. */
    public record Plan(
            long round,
            Set<String> participants,
            long deadline,
            TrainTask train,
            Map<String, Long> localSteps,
            Set<String> dropped,
            double clipNorm) {

        /** A round without central DP (no clip norm). */
        public Plan(
                long round,
                Set<String> participants,
                long deadline,
                TrainTask train,
                Map<String, Long> localSteps,
                Set<String> dropped) {
            this(round, participants, deadline, train, localSteps, dropped, 0);
        }

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

    /** Hears when a learner's task stream opens or closes here (the job tracks reachability). */
    public interface StreamListener {
        void connected(String learnerId);

        void disconnected(String learnerId);
    }

    private final GatewayOptions options;
    private final ModelBoard board;
    private final UpdateLedger ledger;
    private final Supplier<String> newTaskId;
    private final StreamListener listener;

    private final Map<String, ServerCallStreamObserver<Task>> streams = new ConcurrentHashMap<>();

    /**
     * The round whose training task each learner's current stream got. A stream that opens while
     * the round's plan arrives would otherwise get the task twice: once when it connects, once from
     * the plan (both read the open round).
     */
    private final Map<ServerCallStreamObserver<Task>, Long> trainSent =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /**
     * Asynchronous: how many accepted updates a learner may have awaiting acknowledgement (the
     * checkpoint holding them) and still get its next task at once; beyond that its next task waits
     * for an acknowledgement. The aggregators remember more applied tasks per learner than this
     * ({@link org.metisfl.flink.aggregation.AsyncShardAggregator#REMEMBERED_TASKS}), so every
     * update a learner may send again after a failure is recognised.
     */
    public static final int MAX_UNACKNOWLEDGED_ASYNC = 2;

    /** Asynchronous: the outstanding training task of each learner. */
    private final Map<String, Task> asyncTasks = new ConcurrentHashMap<>();

    /**
     * Asynchronous: a learner was refused a task because this gateway served no model yet. Only
     * then does a directive have learners to hand tasks to: every other learner has its task, or
     * awaits an acknowledgement that brings it. Without it each directive (one per publish
     * interval) looked up every connected learner, 100,000 of them in the benchmark.
     */
    private volatile boolean asyncAwaitingModel;

    /**
     * How many evaluated model versions a gateway still takes reports of: an evaluation that
     * arrives after the next version to evaluate was announced (FedBuff announces them fast; a slow
     * evaluator in sync rounds) still counts while the coordinator waits for it.
     */
    static final int EVALUATIONS_REMEMBERED = 8;

    /** The evaluators of the last {@link #EVALUATIONS_REMEMBERED} evaluated versions. */
    private final Map<Long, Set<String>> recentEvaluators =
            new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Long, Set<String>> eldest) {
                    return size() > EVALUATIONS_REMEMBERED;
                }
            };

    /** Threshold mode: the committee tasks outstanding for a learner (none without it). */
    private java.util.function.Function<String, List<Task>> committeeTasks = l -> List.of();

    /** The committee tasks each stream got (a task goes once per stream). */
    private final Map<ServerCallStreamObserver<Task>, Set<String>> committeeSent =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /** Asynchronous: each learner's accepted updates not yet acknowledged (absent: none). */
    private final Map<String, Integer> unacknowledged = new ConcurrentHashMap<>();

    private volatile Plan plan;
    private volatile long evalVersion = -1;
    private volatile Set<String> evaluators = Set.of();
    private volatile boolean finished;
    private volatile String finishReason = "";

    /**
     * @param newTaskId ids of asynchronous tasks (unique per gateway run)
     * @param listener told of every task stream opened, and closed by its learner
     */
    public TaskDispatch(
            GatewayOptions options,
            ModelBoard board,
            UpdateLedger ledger,
            Supplier<String> newTaskId,
            StreamListener listener) {
        this.options = options;
        this.board = board;
        this.ledger = ledger;
        this.newTaskId = newTaskId;
        this.listener = listener;
    }

    public Plan plan() {
        return plan;
    }

    public long evalVersion() {
        return evalVersion;
    }

    /** Whether the learner was asked to evaluate the version, among the remembered ones. */
    public boolean isEvaluator(String learnerId, long version) {
        synchronized (recentEvaluators) {
            Set<String> asked = recentEvaluators.get(version);
            return asked != null && asked.contains(learnerId);
        }
    }

    public boolean isFinished() {
        return finished;
    }

    public int connectedLearners() {
        return streams.size();
    }

    /** The local work the federation's configuration asks of every training task. */
    public TrainTask trainTask() {
        return trainTask(0);
    }

    /**
     * The training task, with the round's clip norm when central DP clips on the learner (0: the
     * configured one).
     */
    public TrainTask trainTask(double roundClipNorm) {
        PrivacyOptions privacy = options.privacy();
        return TrainTask.newBuilder()
                .setEpochs(options.trainEpochs())
                .setBatchSize(options.trainBatchSize())
                .setLearningRate(options.trainLearningRate())
                .setLocalSteps(options.trainLocalSteps())
                .setProximalMu(options.proximalMu())
                .setClipNorm(
                        privacy.centralDp() && privacy.clipOn() == ClipOn.LEARNER
                                ? (roundClipNorm > 0 ? roundClipNorm : privacy.clipNorm())
                                : 0)
                .build();
    }

    /** Registers a learner's task stream and sends it every task still outstanding. */
    public void connect(String learnerId, ServerCallStreamObserver<Task> stream) {
        ServerCallStreamObserver<Task> previous = streams.put(learnerId, stream);
        if (previous != null && previous != stream) {
            closeQuietly(previous);
        }
        listener.connected(learnerId);
        stream.setOnCancelHandler(
                () -> {
                    if (streams.remove(learnerId, stream)) {
                        listener.disconnected(learnerId);
                    }
                });
        if (finished) {
            sendShutdown(learnerId, stream);
            return;
        }
        send(learnerId, stream, newCommitteeTasks(learnerId, stream));
        pushTasks(learnerId, true, !options.asynchronous());
        if (options.asynchronous()) {
            pushAsyncTask(learnerId);
        }
    }

    /** Threshold mode: where the committee tasks of a learner come from. */
    void committeeTasks(java.util.function.Function<String, List<Task>> tasks) {
        this.committeeTasks = tasks;
    }

    /** Threshold mode: sends these learners the committee tasks they have not had yet. */
    void pushCommitteeTasks(Set<String> learners) {
        for (String learner : learners) {
            ServerCallStreamObserver<Task> stream = streams.get(learner);
            if (stream != null && !finished) {
                send(learner, stream, newCommitteeTasks(learner, stream));
            }
        }
    }

    private List<Task> newCommitteeTasks(String learner, ServerCallStreamObserver<Task> stream) {
        List<Task> out = new ArrayList<>(1);
        Set<String> sent = committeeSent.computeIfAbsent(stream, s -> new HashSet<>());
        synchronized (sent) {
            for (Task t : committeeTasks.apply(learner)) {
                if (sent.add(t.getTaskId())) {
                    out.add(t);
                }
            }
        }
        return out;
    }

    /** Closes a learner's task stream (it left). */
    public void disconnect(String learnerId) {
        ServerCallStreamObserver<Task> s = streams.remove(learnerId);
        if (s != null) {
            closeQuietly(s);
        }
    }

    /** True if the learner's task stream is open here. */
    boolean isConnected(String learnerId) {
        return streams.containsKey(learnerId);
    }

    /** Sets the model version to evaluate and its evaluators; returns them. */
    Set<String> evaluate(long version, Set<String> learners) {
        synchronized (recentEvaluators) {
            recentEvaluators.put(version, learners);
        }
        evalVersion = version;
        evaluators = learners;
        return learners;
    }

    /** Opens a new round. */
    void open(Plan p) {
        plan = p;
    }

    /** The open round, with a later deadline (the job restarted). */
    void extendDeadline(long deadline) {
        Plan p = plan;
        plan =
                new Plan(
                        p.round(),
                        p.participants(),
                        deadline,
                        p.train().toBuilder().setDeadlineUnixMs(deadline).build(),
                        p.localSteps(),
                        p.dropped(),
                        p.clipNorm());
    }

    /** The open round, with these participants dropped from it (their streams are gone). */
    void drop(Set<String> dropped) {
        Plan p = plan;
        plan =
                new Plan(
                        p.round(),
                        p.participants(),
                        p.deadline(),
                        p.train(),
                        p.localSteps(),
                        Set.copyOf(dropped),
                        p.clipNorm());
    }

    /** The federation is over; returns false if it already was. */
    boolean finish(String reason) {
        if (finished) {
            return false;
        }
        finished = true;
        finishReason = reason;
        return true;
    }

    /**
     * Hands out what a directive changed: asynchronous tasks to every learner without one, the new
     * round's training task to its participants and the evaluation to its evaluators.
     */
    void dispatch(Set<String> newEvaluators, Set<String> newParticipants) {
        if (options.asynchronous() && asyncAwaitingModel) {
            asyncAwaitingModel = false;
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

    /**
     * Asynchronous: a learner's update was accepted (it is in the job, its acknowledgement waits
     * for the checkpoint holding it); hand the learner its next task right away, on the newest
     * model served, unless it already has {@link #MAX_UNACKNOWLEDGED_ASYNC} updates awaiting
     * acknowledgement: then the task follows the next acknowledgement.
     */
    void onAsyncUpdateAccepted(String learnerId) {
        asyncTasks.remove(learnerId);
        unacknowledged.merge(learnerId, 1, Integer::sum);
        pushAsyncTask(learnerId);
    }

    /**
     * Asynchronous: a learner's update for {@code taskId} was refused for good (too stale, or its
     * round's model gone): the task is spent. If it is the learner's outstanding task, a new one on
     * the newest model replaces it; otherwise the learner, told to train on its next task, would
     * wait for one that never comes (the gateway hands out a task only to a learner without one).
     */
    void onAsyncUpdateRefused(String learnerId, String taskId) {
        Task task = asyncTasks.get(learnerId);
        if (task != null && task.getTaskId().equals(taskId) && asyncTasks.remove(learnerId, task)) {
            pushAsyncTask(learnerId);
        }
    }

    /** Asynchronous: one of a learner's accepted updates is acknowledged (durable in the job). */
    void onAsyncUpdateDurable(String learnerId) {
        unacknowledged.computeIfPresent(learnerId, (id, n) -> n <= 1 ? null : n - 1);
        if (!asyncTasks.containsKey(learnerId)) {
            pushAsyncTask(learnerId);
        }
    }

    /** Asynchronous: how many of a learner's accepted updates await acknowledgement here. */
    int unacknowledged(String learnerId) {
        return unacknowledged.getOrDefault(learnerId, 0);
    }

    /**
     * Sends the learner its outstanding asynchronous task, or a new one on the newest model if it
     * may have one (fewer than {@link #MAX_UNACKNOWLEDGED_ASYNC} updates awaiting acknowledgement).
     */
    private void pushAsyncTask(String learnerId) {
        ServerCallStreamObserver<Task> stream = streams.get(learnerId);
        ModelBoard.ModelSnapshot m = currentOrAwaitModel(stream != null);
        if (stream == null || m == null || finished) {
            return;
        }
        Task task = asyncTasks.get(learnerId);
        if (task == null) {
            if (unacknowledged(learnerId) >= MAX_UNACKNOWLEDGED_ASYNC) {
                return;
            }
            task =
                    asyncTasks.computeIfAbsent(
                            learnerId,
                            id ->
                                    Task.newBuilder()
                                            .setTaskId(newTaskId.get())
                                            .setRound(m.version())
                                            .setModelVersion(m.version())
                                            .setTrain(trainTask())
                                            .build());
        }
        send(learnerId, stream, List.of(task));
    }

    /** The model served now; if none, notes that a learner awaits one (see asyncAwaitingModel). */
    private ModelBoard.ModelSnapshot currentOrAwaitModel(boolean streamOpen) {
        ModelBoard.ModelSnapshot m = board.current();
        if (m == null && streamOpen) {
            // Set before looking again: a model that came meanwhile is seen here, or its
            // directive's dispatch sees the flag.
            asyncAwaitingModel = true;
            m = board.current();
        }
        return m;
    }

    private void pushTasks(String learnerId, boolean evaluation, boolean training) {
        ServerCallStreamObserver<Task> stream = streams.get(learnerId);
        if (stream == null) {
            return;
        }
        List<Task> tasks = new ArrayList<>(2);
        long ev = evalVersion;
        if (evaluation && evaluators.contains(learnerId) && !ledger.evaluated(learnerId, ev)) {
            tasks.add(
                    Task.newBuilder()
                            .setTaskId("r" + ev + "/evaluate")
                            .setRound(ev)
                            .setModelVersion(ev)
                            .setEvaluate(
                                    EvaluateTask.newBuilder()
                                            .setBatchSize(options.evaluationBatchSize()))
                            .build());
        }
        Plan p = plan;
        ModelBoard.ModelSnapshot m = board.current();
        if (training
                && p != null
                && m != null
                && p.expects(learnerId)
                && !ledger.contains(UpdateLedger.updateKey(learnerId, Long.toString(p.round())))) {
            Task train =
                    Task.newBuilder()
                            .setTaskId("r" + p.round() + "/train")
                            .setRound(p.round())
                            .setModelVersion(m.version())
                            .setTrain(p.trainTaskOf(learnerId))
                            .build();
            synchronized (stream) {
                Long sent = trainSent.put(stream, p.round());
                if (sent == null || sent != p.round()) {
                    tasks.add(train);
                }
            }
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
     * Sends every learner its Shutdown once the updates this gateway accepted are durable: a
     * learner keeps an update until it is acknowledged, so it must not be told to stop before.
     * Bounded by {@link #SHUTDOWN_WAIT_MS} in case no checkpoint completes any more.
     */
    void shutdownWhenDurable() {
        ledger.allDurable(SHUTDOWN_WAIT_MS)
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
