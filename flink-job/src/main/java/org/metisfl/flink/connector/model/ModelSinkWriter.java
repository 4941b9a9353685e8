package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.EvaluateTask;
import org.metisfl.proto.v1.RoundPlan;
import org.metisfl.proto.v1.TrainTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the announced gateways and delivers directives to them (the latest also to late ones),
 * without blocking the task thread on the network.
 *
 * <p>The model comes as MODEL_SHARD directives before the PUBLISH that names it; each shard is
 * encoded once ({@link ModelAssembly}) and its bytes go to every gateway as they are, in one
 * Publish call per PUBLISH, so a gateway never sees a PUBLISH before its model. The latest model is
 * kept, encoded, for gateways that announce later and for directives that republish it.
 *
 * <p>Each gateway has its own {@link GatewayLink}: an ordered queue with one delivery in flight and
 * its own retries, so a slow or restarting gateway delays neither the others nor the job. A gateway
 * in this JVM with nothing queued gets the directive at once on the task thread ({@link
 * LocalGateways}). The first failure for good (a refusal, or a gateway unreachable beyond {@link
 * DeliveryPolicy#timeout()}) is kept and rethrown on the task thread: at once through the mailbox,
 * else at the next write or flush.
 *
 * <p>A checkpoint does not wait for deliveries: after any restore the gateways announce again and
 * the coordinator republishes its current model and plan, so nothing the checkpoint covers is lost.
 * At the end of input the sink waits until every gateway has everything (each within the policy's
 * timeout), so the federation's last directive is not cut off.
 */
final class ModelSinkWriter implements SinkWriter<Directive> {
    private static final Logger LOG = LoggerFactory.getLogger(ModelSinkWriter.class);

    private final boolean handOverLocally;
    private final boolean shards;
    private final DeliveryPolicy policy;
    private final MailboxExecutor mailbox;
    private final EventLoopGroup eventLoop;
    private final ScheduledExecutorService executor;
    // written by the task thread only; concurrent for the metric gauges
    private final Map<Integer, GatewayLink> gateways = new ConcurrentHashMap<>();
    private final ModelAssembly assembly;
    private final int chunkBytes;
    private final AtomicReference<IOException> failure = new AtomicReference<>();
    private Directive latest;
    private EncodedModel latestModel;

    ModelSinkWriter(int maxMessageBytes) {
        this(maxMessageBytes, true);
    }

    /**
     * @param handOverLocally give directives to gateways in this JVM directly ({@link
     *     LocalGateways}); false sends every directive over gRPC
     */
    ModelSinkWriter(int maxMessageBytes, boolean handOverLocally) {
        this(maxMessageBytes, handOverLocally, DeliveryPolicy.defaults(), null);
    }

    /**
     * @param mailbox the task's mailbox, to fail the task as soon as a delivery fails for good;
     *     null to report it only at the next write or flush
     */
    ModelSinkWriter(
            int maxMessageBytes,
            boolean handOverLocally,
            DeliveryPolicy policy,
            MailboxExecutor mailbox) {
        this(maxMessageBytes, handOverLocally, policy, mailbox, false);
    }

    /**
     * @param shards the model path: deliver each MODEL_SHARD on its own (a shard aggregator's
     *     sink), not gathered into the model a PUBLISH names
     */
    ModelSinkWriter(
            int maxMessageBytes,
            boolean handOverLocally,
            DeliveryPolicy policy,
            MailboxExecutor mailbox,
            boolean shards) {
        this.shards = shards;
        this.handOverLocally = handOverLocally;
        this.policy = policy;
        this.mailbox = mailbox;
        this.chunkBytes = ModelCodec.chunkBytes(maxMessageBytes);
        this.assembly = new ModelAssembly(chunkBytes);
        this.eventLoop = new NioEventLoopGroup(1, daemon("metisfl-model-sink"));
        this.executor =
                Executors.newSingleThreadScheduledExecutor(daemon("metisfl-model-sink-retry"));
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    @Override
    public void write(Directive d, Context context) throws IOException, InterruptedException {
        checkFailure();
        switch (d.kind) {
            case ANNOUNCE -> announce(d);
            case MODEL_SHARD -> {
                if (shards) {
                    deliverShard(d);
                    return;
                }
                // A republished model is the one already encoded: versions never change values.
                if (latestModel == null || latestModel.version() != d.modelVersion) {
                    assembly.add(d);
                }
            }
            case PUBLISH -> publish(d);
        }
    }

    private void announce(Directive d) throws IOException, InterruptedException {
        GatewayLink old = gateways.remove(d.gateway);
        if (old != null) {
            old.close(); // what it still had queued is older than what the new one gets
            old.channel().shutdownNow();
        }
        ManagedChannel channel =
                NettyChannelBuilder.forAddress(d.host, d.port, ControlChannels.credentials(d))
                        .eventLoopGroup(eventLoop)
                        .channelType(NioSocketChannel.class)
                        .directExecutor()
                        .build();
        GatewayLink g =
                new GatewayLink(
                        d.gateway,
                        d.host,
                        d.port,
                        d.secret,
                        channel,
                        policy,
                        executor,
                        handOverLocally,
                        this::failed);
        gateways.put(d.gateway, g);
        LOG.info("Gateway {} announced at {}:{}", d.gateway, d.host, d.port);
        if (latest != null && !shards) {
            deliver(g, latest, latestModel);
        }
    }

    private void publish(Directive d) throws IOException, InterruptedException {
        latestModel = modelOf(d);
        latest = d;
        for (GatewayLink g : gateways.values()) {
            deliver(g, d, latestModel);
        }
    }

    /**
     * The model path: one global shard, encoded once, to every announced gateway, which keeps it
     * until the coordinator's PUBLISH of its version and the version's other shards are in.
     */
    private void deliverShard(Directive d) throws IOException, InterruptedException {
        ModelAssembly one = new ModelAssembly(chunkBytes);
        one.add(Directive.modelShard(d.modelVersion, d.shard, 0, d.values()));
        EncodedModel encoded = one.take(d.modelVersion, d.values().size());
        DirectiveHeader.Builder h =
                DirectiveHeader.newBuilder()
                        .setModelVersion(d.modelVersion)
                        .setModelBytes(encoded.bytes())
                        .setModelShard(
                                org.metisfl.proto.v1.ModelShardRef.newBuilder().setIndex(d.shard));
        if (encoded.encryption() != null) {
            // A ciphertext shard (secure sum): its backend, parameter hash and byte length, which
            // the gateway gathers into the served model's Encryption.
            h.setEncryption(encoded.encryption());
        }
        DirectiveHeader header = h.build();
        String what = "model v" + d.modelVersion + " shard " + d.shard;
        for (GatewayLink g : gateways.values()) {
            GatewayLink.Delivery delivery = new GatewayLink.Delivery(what, header, encoded);
            if (!g.handOver(delivery)) {
                g.enqueue(delivery);
            }
            checkFailure();
        }
    }

    private void deliver(GatewayLink g, Directive d, EncodedModel model)
            throws IOException, InterruptedException {
        DirectiveHeader header = header(d, model);
        org.metisfl.flink.model.AggregateCarriage.Detached aggregate =
                org.metisfl.flink.model.AggregateCarriage.detach(header, chunkBytes);
        if (aggregate != null) {
            // Threshold decryption: the aggregate travels as chunks after the model's.
            header = aggregate.header();
            List<ByteString> chunks = new ArrayList<>();
            if (model != null) {
                chunks.addAll(model.chunks());
            }
            chunks.addAll(aggregate.chunks());
            model =
                    model == null
                            ? new EncodedModel(-1, 0, aggregate.bytes(), chunks, null)
                            : new EncodedModel(
                                    model.version(),
                                    model.values(),
                                    model.bytes() + aggregate.bytes(),
                                    chunks,
                                    model.encryption());
        }
        GatewayLink.Delivery delivery = new GatewayLink.Delivery(d.toString(), header, model);
        if (!g.handOver(delivery)) {
            g.enqueue(delivery);
        }
        checkFailure();
    }

    /** The model a PUBLISH directive names: just gathered, or the one kept; null if none. */
    private EncodedModel modelOf(Directive d) {
        EncodedModel gathered = assembly.take(d.modelVersion, d.modelValues);
        if (d.modelVersion < 0 || d.modelValues == 0 || d.modelInShards) {
            return null;
        }
        if (gathered != null) {
            return gathered;
        }
        if (latestModel != null
                && latestModel.version() == d.modelVersion
                && latestModel.values() == d.modelValues) {
            return latestModel;
        }
        LOG.warn("{} came without the values of its model: delivered without a model", d);
        return null;
    }

    private static DirectiveHeader header(Directive d, EncodedModel model) {
        DirectiveHeader.Builder h =
                DirectiveHeader.newBuilder()
                        .setModelVersion(d.modelVersion)
                        .setModelBytes(model == null ? 0 : model.bytes())
                        .setNumShards(d.numShards)
                        .setShardSize(d.shardSize)
                        .setFinished(d.finished)
                        .setModelInShards(d.modelInShards);
        if (d.tensors != null) {
            h.addAllTensors(ModelCodec.toProto(d.tensors));
        }
        if (model != null && model.encryption() != null) {
            h.setEncryption(model.encryption());
        }
        if (d.selectionRound > 0 && d.selection != null) {
            h.addAllSelection(d.selection).setSelectionRound(d.selectionRound);
        }
        if (d.countedRound > 0 && d.counted != null) {
            h.addAllCounted(d.counted).setCountedRound(d.countedRound);
        }
        if (d.finishReason != null) {
            h.setFinishReason(d.finishReason);
        }
        if (d.threshold != null) {
            try {
                h.setThreshold(org.metisfl.proto.v1.ThresholdDirective.parseFrom(d.threshold));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException("the coordinator's threshold state is corrupt", e);
            }
        }
        if (d.evaluators != null && !d.evaluators.isEmpty()) {
            h.addAllEvaluators(d.evaluators);
            h.setEvaluate(EvaluateTask.newBuilder());
        }
        if (d.planRound > 0) {
            h.setPlan(
                    RoundPlan.newBuilder()
                            .setRound(d.planRound)
                            .addAllParticipants(d.participants)
                            .addAllDropped(d.dropped == null ? List.of() : d.dropped)
                            .setQuorum(d.quorum)
                            .setDeadlineUnixMs(d.deadline)
                            .putAllLocalSteps(d.localSteps == null ? Map.of() : d.localSteps)
                            .setTrain(TrainTask.newBuilder().setClipNorm(d.clipNorm)));
        }
        return h.build();
    }

    /** Called by a link that stopped for good: keep the first failure, fail the task. */
    private void failed(IOException e) {
        if (failure.compareAndSet(null, e)) {
            LOG.error("Model delivery failed: {}", e.getMessage());
            if (mailbox != null) {
                try {
                    mailbox.execute(this::checkFailure, "model sink delivery failure");
                } catch (RuntimeException closed) {
                    // the task is already shutting down; the next write or flush rethrows it
                }
            }
        }
    }

    private void checkFailure() throws IOException {
        IOException e = failure.get();
        if (e != null) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Waits until every gateway has every directive so far (or one failed for good), checking for
     * failures as it goes; bounded, since each queued directive is delivered or fails within the
     * policy's timeout.
     */
    void awaitDelivered() throws IOException, InterruptedException {
        for (GatewayLink g : gateways.values()) {
            while (!g.awaitIdle(Duration.ofMillis(100))) {
                checkFailure();
            }
        }
        checkFailure();
    }

    /** Directives queued for gateways and not yet delivered (a metric). */
    long pendingDeliveries() {
        long n = 0;
        for (GatewayLink g : gateways.values()) {
            n += g.pending();
        }
        return n;
    }

    /** Directives delivered to the gateways announced now (a metric). */
    long deliveredDirectives() {
        long n = 0;
        for (GatewayLink g : gateways.values()) {
            n += g.delivered();
        }
        return n;
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        if (endOfInput) {
            awaitDelivered();
        } else {
            checkFailure();
        }
    }

    @Override
    public void close() {
        for (GatewayLink g : gateways.values()) {
            g.close();
            g.channel().shutdownNow();
        }
        for (GatewayLink g : gateways.values()) {
            try {
                g.channel().awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        executor.shutdownNow();
        eventLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
