package org.metisfl.flink.connector.gateway.reader;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.core.io.InputStatus;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.enumerator.EnrollmentUseAnswer;
import org.metisfl.flink.connector.gateway.enumerator.EnrollmentUsesReport;
import org.metisfl.flink.connector.gateway.enumerator.RevocationEvent;
import org.metisfl.flink.connector.gateway.security.Admission;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.flink.connector.gateway.server.GatewayServer;
import org.metisfl.flink.connector.gateway.server.GatewayState;
import org.metisfl.flink.connector.gateway.server.StampedEventQueue;
import org.metisfl.flink.connector.gateway.server.TokenAuthority;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;
import org.metisfl.flink.model.GatewayEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A learner gateway: hosts the gRPC server learners talk to and pushes what they send into the job.
 * Emits its own watermarks (the gateway clock, held below any update not yet emitted), also while
 * no learner sends anything. With checkpoints on, a learner's update is acknowledged only after the
 * checkpoint holding it completes. The source ends when the federation is over and everything it
 * accepted is answered (or after {@link #ANSWER_WAIT_MS}), a grace second after that.
 */
public final class GatewayReader implements SourceReader<GatewayEvent, GatewaySplit> {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayReader.class);
    private static final long TICK_MS = 50;
    private static final long FINISH_GRACE_MS = 1_000;

    /**
     * How long a gateway whose federation is over waits for the checkpoints that answer what it
     * accepted before it ends anyway (the Shutdown waits as long: {@code
     * TaskDispatch.SHUTDOWN_WAIT_MS}).
     */
    static final long ANSWER_WAIT_MS = 30_000;

    /** With pre-aggregation, at most this many queued batches are taken in one poll. */
    private static final int MAX_BATCHES_PER_POLL = 256;

    private final SourceReaderContext context;
    private final GatewayOptions config;
    private final LongSupplier clock;
    private final StampedEventQueue queue;
    private final ScheduledExecutorService ticker;

    private GatewaySplit split;

    /** Revocations the enumerator sent before this reader's gateway started. */
    private final List<String> revokedBeforeStart = new ArrayList<>();

    private GatewayState state;
    private GatewayServer server;
    private long lastWatermark = Long.MIN_VALUE;
    private long finishedSince = -1;
    private long finishedAt = -1;
    private GatewayReaderMetrics metrics;

    private List<Runnable> emittedSinceSnapshot = new ArrayList<>();
    private final TreeMap<Long, List<Runnable>> awaitingCheckpoint = new TreeMap<>();

    private final GatewaySecurity security;
    private Admission admission;

    /** The joins' requests for enrollment uses, to and from the enumerator. */
    private final EnrollmentUseBroker useBroker;

    /** Local pre-aggregation, or null. */
    private final PartialSums partials;

    public GatewayReader(
            SourceReaderContext context,
            GatewayOptions config,
            GatewaySecurity security,
            LongSupplier clock) {
        this(context, config, security, clock, null);
    }

    /**
     * A reader that folds the updates it takes in one poll into {@code partials} (null: every
     * update goes on as it is).
     */
    public GatewayReader(
            SourceReaderContext context,
            GatewayOptions config,
            GatewaySecurity security,
            LongSupplier clock,
            PartialSums partials) {
        this.partials = partials;
        this.context = context;
        this.config = config;
        this.security = security;
        this.clock = clock;
        this.queue = new StampedEventQueue(clock);
        this.useBroker = new EnrollmentUseBroker(queue::wakeUp);
        this.ticker =
                Executors.newSingleThreadScheduledExecutor(
                        r -> {
                            Thread t =
                                    new Thread(
                                            r,
                                            "metisfl-gateway-ticker-"
                                                    + context.getIndexOfSubtask());
                            t.setDaemon(true);
                            return t;
                        });
    }

    @Override
    public void start() {
        ticker.scheduleAtFixedRate(queue::wakeUp, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
        if (split == null) {
            context.sendSplitRequest();
        }
    }

    @Override
    public void addSplits(List<GatewaySplit> splits) {
        for (GatewaySplit s : splits) {
            if (split != null) {
                throw new IllegalStateException(
                        "a gateway reader serves one gateway, got " + split + " and " + s);
            }
            split = s;
            try {
                startServer(s);
            } catch (IOException e) {
                throw new IllegalStateException(
                        "gateway "
                                + s.index()
                                + " cannot listen on "
                                + config.gatewayHost()
                                + ":"
                                + portOf(s)
                                + " ("
                                + e.getMessage()
                                + "); free the port or change gateway.port",
                        e);
            }
        }
    }

    private int portOf(GatewaySplit s) {
        return config.gatewayPort() == 0 ? 0 : config.gatewayPort() + s.index();
    }

    private void startServer(GatewaySplit s) throws IOException {
        TokenAuthority tokens = new TokenAuthority(s.secret(), security.tokenLifetime(), clock);
        s.revoked().forEach(tokens::revoke);
        revokedBeforeStart.forEach(tokens::revoke);
        revokedBeforeStart.clear();
        state = new GatewayState(config, s.index(), tokens, queue);
        if (partials != null) {
            GatewayState run = state;
            partials.foldTasksOf(run::handedOutThisRun);
        }
        // The enumerator's checkpoint may predate a revocation this split holds: tell it again.
        if (!s.revoked().isEmpty()) {
            context.sendSourceEventToCoordinator(new RevocationEvent(List.copyOf(s.revoked())));
        }
        // The uses this gateway holds, for the enumerator's federation-wide counts (again at
        // every start: a restore gives back the uses granted after its checkpoint).
        context.sendSourceEventToCoordinator(new EnrollmentUsesReport(s.enrollmentUses()));
        admission = new Admission(security, s.enrollmentUses(), useBroker);
        server = new GatewayServer(state, config.gatewayHost(), portOf(s), security, admission);
        String host =
                config.gatewayAdvertisedHost()
                        .orElse(
                                "0.0.0.0".equals(config.gatewayHost())
                                                || "::".equals(config.gatewayHost())
                                        ? context.getLocalHostName()
                                        : config.gatewayHost());
        metrics =
                GatewayReaderMetrics.register(
                        context.metricGroup(),
                        config.federationName(),
                        state,
                        host + ":" + server.controlPort(),
                        server.controlFingerprint(),
                        partials);
        GatewayEvent announce =
                GatewayEvent.announce(s.index(), host, server.controlPort(), server.controlToken());
        announce.controlFingerprint = server.controlFingerprint();
        queue.offer(List.of(announce), Long.MAX_VALUE, null);
        LOG.info(
                "Learner gateway {} listening on {}:{} ({}; admission {}), control endpoint on"
                        + " port {}",
                s.index(),
                config.gatewayHost(),
                server.port(),
                security.learnerPort().describe(),
                security.admission(),
                server.controlPort());
    }

    @Override
    public void handleSourceEvents(SourceEvent event) {
        if (event instanceof EnrollmentUseAnswer a) {
            useBroker.answered(a);
            return;
        }
        if (event instanceof RevocationEvent r) {
            if (state == null) {
                revokedBeforeStart.addAll(r.learners());
                return;
            }
            for (String learner : r.learners()) {
                if (state.revoke(learner, false)) {
                    state.disconnect(learner);
                }
            }
        }
    }

    @Override
    public InputStatus pollNext(ReaderOutput<GatewayEvent> output) {
        useBroker.send(context::sendSourceEventToCoordinator);
        if (state != null) {
            List<String> revoked = state.directory().takeToPublish();
            if (!revoked.isEmpty()) {
                context.sendSourceEventToCoordinator(new RevocationEvent(revoked));
            }
        }
        StampedEventQueue.Batch batch = queue.poll();
        if (partials == null) {
            if (batch != null) {
                for (GatewayEvent e : batch.events()) {
                    e.stampedAt(batch.timestamp());
                    output.collect(e, batch.timestamp());
                }
                awaitDurability(batch);
            }
        } else {
            // Everything queued now (up to a bound) is taken in this poll, its updates folded;
            // the partials leave before the poll ends, so before any checkpoint barrier.
            PartialSums.Emitter emitter =
                    (e, timestamp) -> output.collect(e.stampedAt(timestamp), timestamp);
            for (int taken = 0; batch != null; batch = queue.poll()) {
                partials.offer(batch.events(), batch.timestamp(), emitter);
                awaitDurability(batch);
                if (++taken >= MAX_BATCHES_PER_POLL) {
                    break;
                }
            }
            partials.flush(emitter);
        }
        long watermark = queue.watermark();
        if (state != null && state.directiveSeen() && watermark > lastWatermark) {
            output.emitWatermark(new Watermark(watermark));
            lastWatermark = watermark;
        }
        if (state != null && state.isFinished() && queue.isEmpty()) {
            long now = clock.getAsLong();
            if (finishedAt < 0) {
                finishedAt = now;
            }
            if (answersPending() && now - finishedAt < ANSWER_WAIT_MS) {
                // What was accepted is answered (and the Shutdown, which waits for those answers,
                // sent) while the job still runs its checkpoints: once the source ends, a
                // checkpoint's completion may no longer reach this reader before it closes.
                finishedSince = -1;
            } else if (finishedSince < 0) {
                finishedSince = now;
            } else if (now - finishedSince >= FINISH_GRACE_MS) {
                LOG.info("Gateway {}: the federation is over", split.index());
                return InputStatus.END_OF_INPUT;
            }
        }
        return queue.isEmpty() ? InputStatus.NOTHING_AVAILABLE : InputStatus.MORE_AVAILABLE;
    }

    /** Whether something emitted still awaits the completion of its checkpoint to be answered. */
    private boolean answersPending() {
        return !emittedSinceSnapshot.isEmpty() || !awaitingCheckpoint.isEmpty();
    }

    /** Acknowledges the batch's update once durable: after the next checkpoint, if any. */
    private void awaitDurability(StampedEventQueue.Batch batch) {
        if (batch.onDurable() == null) {
            return;
        }
        if (config.checkpointsEnabled()) {
            Runnable ack = batch.onDurable();
            long emittedAt = clock.getAsLong();
            emittedSinceSnapshot.add(
                    () -> {
                        metrics.acknowledged(emittedAt, clock.getAsLong());
                        ack.run();
                    });
        } else {
            batch.onDurable().run();
        }
    }

    @Override
    public List<GatewaySplit> snapshotState(long checkpointId) {
        if (!emittedSinceSnapshot.isEmpty()) {
            awaitingCheckpoint.put(checkpointId, emittedSinceSnapshot);
            emittedSinceSnapshot = new ArrayList<>();
        }
        if (split == null) {
            return List.of();
        }
        return List.of(
                new GatewaySplit(
                        split.index(),
                        split.secret(),
                        admission == null ? split.enrollmentUses() : admission.uses(),
                        state == null ? split.revoked() : state.tokens().revoked()));
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        Iterator<Map.Entry<Long, List<Runnable>>> it =
                awaitingCheckpoint.headMap(checkpointId, true).entrySet().iterator();
        while (it.hasNext()) {
            for (Runnable ack : it.next().getValue()) {
                ack.run();
            }
            it.remove();
        }
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        return queue.availability();
    }

    @Override
    public void notifyNoMoreSplits() {}

    @Override
    public void close() {
        if (partials != null && split != null) {
            LOG.info(
                    "Gateway {}: {} updates folded into {} partials, {} sent on as foreign",
                    split.index(),
                    partials.updatesFolded(),
                    partials.partialsEmitted(),
                    partials.foreignSent());
        }
        ticker.shutdownNow();
        useBroker.close();
        if (server != null) {
            server.close();
        }
    }
}
