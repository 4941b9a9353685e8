package org.metisfl.flink.connector.gateway.reader;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.connector.testutils.source.reader.TestingReaderContext;
import org.apache.flink.connector.testutils.source.reader.TestingReaderOutput;
import org.apache.flink.core.io.InputStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.flink.connector.gateway.server.LocalGateways;
import org.metisfl.flink.connector.gateway.server.TokenAuthority;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.JoinRequest;
import org.metisfl.proto.v1.JoinResponse;
import org.metisfl.proto.v1.LearnerServiceGrpc;
import org.metisfl.proto.v1.RoundPlan;

/**
 * The gateway's source reader with Flink's testing reader context and output, its gRPC server on
 * 127.0.0.1 (a free port) and its clock injected: it asks for its split, announces itself, holds
 * its watermark until the job's first directive and then follows its clock, answers a learner only
 * once the checkpoint holding what it sent completes, and ends when the federation is over.
 */
class GatewayReaderTest {
    private static final String SECRET = TokenAuthority.newSecret();

    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final TestingReaderContext context = new TestingReaderContext();
    private final RecordingOutput output = new RecordingOutput();
    private static final String CONTROL = new TokenAuthority(SECRET).controlToken();
    private GatewayReader reader;
    private ManagedChannel channel;
    private int learnerPort;

    /** Flink's testing output, also keeping the watermarks the reader emits. */
    private static final class RecordingOutput extends TestingReaderOutput<GatewayEvent> {
        final List<Long> watermarks = new ArrayList<>();

        @Override
        public void emitWatermark(Watermark watermark) {
            watermarks.add(watermark.getTimestamp());
        }
    }

    private GatewayReader start(String... keyValues) {
        Map<String, String> settings = new HashMap<>();
        settings.put("gateway.host", "127.0.0.1");
        learnerPort = freePort();
        settings.put("gateway.port", Integer.toString(learnerPort));
        for (int i = 0; i < keyValues.length; i += 2) {
            settings.put(keyValues[i], keyValues[i + 1]);
        }
        reader =
                new GatewayReader(
                        context,
                        GatewayOptions.from(FederationConfig.of(settings)),
                        GatewaySecurity.insecureForDevelopment(),
                        clock::get);
        reader.start();
        reader.addSplits(List.of(new GatewaySplit(0, SECRET)));
        return reader;
    }

    private static int freePort() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void close() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (reader != null) {
            reader.close();
        }
    }

    /** Polls until {@code kind} was emitted (learners call from gRPC threads). */
    private GatewayEvent pollUntil(GatewayEvent.Kind kind) throws InterruptedException {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < giveUp) {
            reader.pollNext(output);
            for (GatewayEvent e : output.getEmittedRecords()) {
                if (e.kind == kind) {
                    return e;
                }
            }
            Thread.sleep(5);
        }
        throw new AssertionError(kind + " was never emitted; got " + output.getEmittedRecords());
    }

    /** The announced control port (the learner port is {@link #learnerPort}). */
    private int announcedPort() throws InterruptedException {
        return pollUntil(GatewayEvent.Kind.ANNOUNCE).port;
    }

    private int learnerPortOnceAnnounced() throws InterruptedException {
        announcedPort();
        return learnerPort;
    }

    private ListenableFuture<JoinResponse> join(int port) {
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        return LearnerServiceGrpc.newFutureStub(channel)
                .join(JoinRequest.newBuilder().setName("alice").setNumTrainingExamples(5).build());
    }

    private static DirectiveHeader.Builder directive() {
        return DirectiveHeader.newBuilder().setModelVersion(-1).setNumShards(2);
    }

    /** Tells the gateway on control port {@code port} that the federation is over. */
    private static void finish(int port) {
        LocalGateways.deliver(
                port,
                CONTROL,
                directive().setFinished(true).setFinishReason("completed 1 rounds").build(),
                null);
    }

    /**
     * Starts a reader with checkpoints, has a learner join (its answer awaits the checkpoint
     * holding the join) and then ends the federation.
     *
     * @return the learner's answer
     */
    private ListenableFuture<JoinResponse> joinThenFinish() throws InterruptedException {
        start("job.checkpoint-interval", "1 s");
        ListenableFuture<JoinResponse> answer = join(learnerPortOnceAnnounced());
        pollUntil(GatewayEvent.Kind.JOINED);
        finish(announcedPort());
        return answer;
    }

    @Test
    void asksForItsSplitThenAnnouncesWhereItListens() throws Exception {
        start();
        assertThat(context.getNumSplitRequests()).isEqualTo(1);
        GatewayEvent announce = pollUntil(GatewayEvent.Kind.ANNOUNCE);
        assertThat(announce.gateway).isZero();
        assertThat(announce.host).isEqualTo("127.0.0.1");
        assertThat(announce.port).as("its control endpoint, apart from learners").isPositive();
        assertThat(announce.port).isNotEqualTo(learnerPort);
        assertThat(announce.secret)
                .as("the control credential, derived: never the federation secret")
                .isEqualTo(CONTROL)
                .isNotEqualTo(SECRET);
        assertThat(announce.controlFingerprint).hasSize(64);
        assertThat(announce.stamp).isEqualTo(clock.get());
    }

    @Test
    void holdsItsWatermarkUntilTheJobsFirstDirectiveThenFollowsItsClock() throws Exception {
        start();
        int port = announcedPort();
        clock.addAndGet(5_000);
        reader.pollNext(output);
        assertThat(output.watermarks).as("no plan from the job yet").isEmpty();

        RoundPlan plan =
                RoundPlan.newBuilder()
                        .setRound(1)
                        .setQuorum(1)
                        .setDeadlineUnixMs(9_999_999)
                        .build();
        assertThat(LocalGateways.deliver(port, CONTROL, directive().setPlan(plan).build(), null))
                .isTrue();
        output.clearEmittedRecords();
        reader.pollNext(output);
        assertThat(output.getEmittedRecords())
                .extracting(e -> e.kind + "/" + e.shard)
                .containsExactly("ROUND_OPENED/0", "ROUND_OPENED/1");
        assertThat(output.getEmittedRecords().get(0).deadline).isEqualTo(9_999_999);
        assertThat(output.watermarks).containsExactly(clock.get() - 1);

        clock.addAndGet(250);
        reader.pollNext(output);
        assertThat(output.watermarks).containsExactly(clock.get() - 251, clock.get() - 1);
    }

    @Test
    void aLearnerIsAnsweredOnlyOnceTheCheckpointHoldingItsJoinCompletes() throws Exception {
        start("job.checkpoint-interval", "1 s");
        ListenableFuture<JoinResponse> answer = join(learnerPortOnceAnnounced());
        GatewayEvent joined = pollUntil(GatewayEvent.Kind.JOINED);
        assertThat(joined.learnerName).isEqualTo("alice");
        assertThat(joined.numExamples).isEqualTo(5);
        List<GatewaySplit> checkpointed = reader.snapshotState(7);
        assertThat(checkpointed).hasSize(1);
        assertThat(checkpointed.get(0).secret()).isEqualTo(SECRET);
        Thread.sleep(100);
        assertThat(answer).as("checkpoint 7 has not completed").isNotDone();
        reader.notifyCheckpointComplete(6);
        Thread.sleep(100);
        assertThat(answer).as("an older checkpoint does not hold it").isNotDone();
        reader.notifyCheckpointComplete(7);
        assertThat(answer.get(10, TimeUnit.SECONDS).getLearnerId()).isEqualTo(joined.learnerId);
    }

    @Test
    void withoutCheckpointsALearnerIsAnsweredOnceWhatItSentIsEmitted() throws Exception {
        start("job.checkpoint-interval", "0 ms");
        ListenableFuture<JoinResponse> answer = join(learnerPortOnceAnnounced());
        GatewayEvent joined = pollUntil(GatewayEvent.Kind.JOINED);
        assertThat(answer.get(10, TimeUnit.SECONDS).getLearnerId()).isEqualTo(joined.learnerId);
    }

    @Test
    void endsAGraceSecondAfterTheFederationIsOver() throws Exception {
        start();
        int port = announcedPort();
        finish(port);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(999);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(1);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.END_OF_INPUT);
    }

    /**
     * A gateway whose federation is over ends only once what it accepted is answered: the answer
     * waits for its checkpoint, which may no longer reach a reader whose source has ended.
     */
    @Test
    void endsOnlyOnceWhatItAcceptedIsAnsweredThenAGraceSecondLater() throws Exception {
        ListenableFuture<JoinResponse> answer = joinThenFinish();
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(5_000);
        assertThat(reader.pollNext(output))
                .as("the join awaits its checkpoint")
                .isEqualTo(InputStatus.NOTHING_AVAILABLE);
        reader.snapshotState(3);
        clock.addAndGet(5_000);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        reader.notifyCheckpointComplete(3);
        assertThat(answer.get(10, TimeUnit.SECONDS).getLearnerId()).isNotEmpty();
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(999);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(1);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.END_OF_INPUT);
    }

    @Test
    void endsAfterItsAnswerWaitEvenIfNoCheckpointCompletes() throws Exception {
        joinThenFinish();
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(GatewayReader.ANSWER_WAIT_MS);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.NOTHING_AVAILABLE);
        clock.addAndGet(1_000);
        assertThat(reader.pollNext(output)).isEqualTo(InputStatus.END_OF_INPUT);
    }
}
