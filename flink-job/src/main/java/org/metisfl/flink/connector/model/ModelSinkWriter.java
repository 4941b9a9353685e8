package org.metisfl.flink.connector.model;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.proto.v1.DirectiveChunk;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.EvaluateTask;
import org.metisfl.proto.v1.GatewayControlServiceGrpc;
import org.metisfl.proto.v1.PublishResponse;
import org.metisfl.proto.v1.RoundPlan;
import org.metisfl.proto.v1.TrainTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the announced gateways and delivers directives to them (the latest also to late ones).
 *
 * <p>The model comes as MODEL_SHARD directives before the PUBLISH that names it; each shard is
 * encoded once ({@link ModelAssembly}) and its bytes go to every gateway as they are. The latest
 * model is kept, encoded, for gateways that announce later and for directives that republish it.
 */
final class ModelSinkWriter implements SinkWriter<Directive> {
    private static final Logger LOG = LoggerFactory.getLogger(ModelSinkWriter.class);
    private static final int ATTEMPTS = 5;

    private record Gateway(String host, int port, String secret, ManagedChannel channel) {}

    private final boolean handOverLocally;
    private final EventLoopGroup eventLoop;
    private final Map<Integer, Gateway> gateways = new HashMap<>();
    private final ModelAssembly assembly;
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
        this.handOverLocally = handOverLocally;
        this.assembly = new ModelAssembly(ModelCodec.chunkBytes(maxMessageBytes));
        this.eventLoop =
                new NioEventLoopGroup(
                        1,
                        (java.util.concurrent.ThreadFactory)
                                r -> {
                                    Thread t = new Thread(r, "metisfl-model-sink");
                                    t.setDaemon(true);
                                    return t;
                                });
    }

    @Override
    public void write(Directive d, Context context) throws IOException, InterruptedException {
        switch (d.kind) {
            case ANNOUNCE -> announce(d);
            case MODEL_SHARD -> {
                // A republished model is the one already encoded: versions never change values.
                if (latestModel == null || latestModel.version() != d.modelVersion) {
                    assembly.add(d);
                }
            }
            case PUBLISH -> publish(d);
        }
    }

    private void announce(Directive d) throws IOException, InterruptedException {
        Gateway old = gateways.get(d.gateway);
        if (old != null) {
            old.channel().shutdownNow();
        }
        ManagedChannel channel =
                NettyChannelBuilder.forAddress(d.host, d.port)
                        .usePlaintext()
                        .eventLoopGroup(eventLoop)
                        .channelType(NioSocketChannel.class)
                        .directExecutor()
                        .build();
        Gateway g = new Gateway(d.host, d.port, d.secret, channel);
        gateways.put(d.gateway, g);
        LOG.info("Gateway {} announced at {}:{}", d.gateway, d.host, d.port);
        if (latest != null) {
            deliver(d.gateway, g, latest, latestModel);
        }
    }

    private void publish(Directive d) throws IOException, InterruptedException {
        latestModel = modelOf(d);
        latest = d;
        for (Map.Entry<Integer, Gateway> g : gateways.entrySet()) {
            deliver(g.getKey(), g.getValue(), d, latestModel);
        }
    }

    /** The model a PUBLISH directive names: just gathered, or the one kept; null if none. */
    private EncodedModel modelOf(Directive d) {
        EncodedModel gathered = assembly.take(d.modelVersion, d.modelValues);
        if (d.modelVersion < 0 || d.modelValues == 0) {
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

    private DirectiveHeader header(Gateway g, Directive d, EncodedModel model) {
        DirectiveHeader.Builder h =
                DirectiveHeader.newBuilder()
                        .setSecret(g.secret())
                        .setModelVersion(d.modelVersion)
                        .setModelBytes(model == null ? 0 : model.bytes())
                        .setNumShards(d.numShards)
                        .setShardSize(d.shardSize)
                        .setFinished(d.finished);
        if (d.tensors != null) {
            h.addAllTensors(ModelCodec.toProto(d.tensors));
        }
        if (d.selectionRound > 0 && d.selection != null) {
            h.addAllSelection(d.selection).setSelectionRound(d.selectionRound);
        }
        if (d.finishReason != null) {
            h.setFinishReason(d.finishReason);
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
                            .putAllLocalSteps(
                                    d.localSteps == null ? java.util.Map.of() : d.localSteps)
                            .setTrain(TrainTask.newBuilder()));
        }
        return h.build();
    }

    private void deliver(int index, Gateway g, Directive d, EncodedModel model)
            throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                send(g, header(g, d, model), model);
                return;
            } catch (ExecutionException | TimeoutException e) {
                last =
                        new IOException(
                                "gateway "
                                        + index
                                        + " at "
                                        + g.host()
                                        + ":"
                                        + g.port()
                                        + " did not take "
                                        + d
                                        + ": "
                                        + e.getMessage(),
                                e);
                LOG.warn("{} (attempt {} of {})", last.getMessage(), attempt, ATTEMPTS);
                Thread.sleep(200L * attempt);
            }
        }
        throw last;
    }

    private void send(Gateway g, DirectiveHeader header, EncodedModel model)
            throws ExecutionException, TimeoutException, InterruptedException {
        if (handOverLocally
                && LocalGateways.deliver(
                        g.port(), g.secret(), header, model == null ? null : model.chunks())) {
            return; // a gateway in this JVM: handed over, no loopback transfer
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<DirectiveChunk> out =
                GatewayControlServiceGrpc.newStub(g.channel())
                        .withDeadlineAfter(60, TimeUnit.SECONDS)
                        .publish(
                                new StreamObserver<>() {
                                    @Override
                                    public void onNext(PublishResponse value) {}

                                    @Override
                                    public void onError(Throwable t) {
                                        done.completeExceptionally(t);
                                    }

                                    @Override
                                    public void onCompleted() {
                                        done.complete(null);
                                    }
                                });
        out.onNext(DirectiveChunk.newBuilder().setHeader(header).build());
        if (model != null) {
            for (ByteString chunk : model.chunks()) {
                out.onNext(DirectiveChunk.newBuilder().setData(chunk).build());
            }
        }
        out.onCompleted();
        done.get(90, TimeUnit.SECONDS);
    }

    @Override
    public void flush(boolean endOfInput) {}

    @Override
    public void close() {
        for (Gateway g : gateways.values()) {
            g.channel().shutdownNow();
        }
        for (Gateway g : gateways.values()) {
            try {
                g.channel().awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        eventLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
