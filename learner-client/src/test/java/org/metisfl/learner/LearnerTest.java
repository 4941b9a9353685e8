package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.metisfl.learner.FakeGatewayFixture.evaluate;
import static org.metisfl.learner.FakeGatewayFixture.fastOptions;
import static org.metisfl.learner.FakeGatewayFixture.shutdown;
import static org.metisfl.learner.FakeGatewayFixture.train;

import io.grpc.Status;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.metisfl.learner.FakeGateway.ReceivedUpdate;
import org.metisfl.learner.internal.LearnerSession;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainTask;
import org.metisfl.proto.v1.EvaluationReport;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.BearerToken;

class LearnerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension final FakeGatewayFixture fixture = FakeGatewayFixture.timeout(TIMEOUT);

    private FakeGateway gateway;

    @Test
    void trainsEvaluatesAndStopsWhenTheFederationShutsDown() throws Exception {
        gateway = fixture.start(1);
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(
                evaluate("e0", 0, 0),
                train("t1", 1, 0).toBuilder()
                        .setTrain(
                                org.metisfl.proto.v1.TrainTask.newBuilder()
                                        .setEpochs(2)
                                        .setBatchSize(32)
                                        .setLearningRate(0.05)
                                        .setDeadlineUnixMs(1234))
                        .build(),
                evaluate("e1", 1, 0),
                shutdown("federation finished after 1 round"));

        Learner learner = fixture.learner(adapter, fastOptions().maxChunkBytes(10).build());
        LearnerSummary summary = fixture.runToEnd(learner);

        assertThat(gateway.joins)
                .singleElement()
                .satisfies(
                        j -> {
                            assertThat(j.getName()).isEqualTo("alice");
                            assertThat(j.getNumTrainingExamples()).isEqualTo(120);
                            assertThat(j.getNumTestExamples()).isEqualTo(40);
                        });
        // The global model reached the adapter before the first evaluation.
        assertThat(values(adapter.weightsSet.get(0))).isEqualTo(values(gateway.model));
        assertThat(adapter.trainTasks).containsExactly(new TrainTask(1, 2, 32, 0.05, 0, 1234));

        ReceivedUpdate update = gateway.updates.get(0);
        assertThat(gateway.updates).hasSize(1);
        UpdateHeader header = update.header();
        assertThat(header.getCredentials().getLearnerId()).isEqualTo("learner-1");
        assertThat(header.getCredentials().getToken())
                .as("the token travels as call credentials, not in the message")
                .isEmpty();
        assertThat(update.bearer()).isEqualTo("token-1");
        assertThat(header.getTaskId()).isEqualTo("t1");
        assertThat(header.getRound()).isEqualTo(1);
        assertThat(header.getNumTrainingExamples()).isEqualTo(120);
        assertThat(header.getNumCompletedBatches()).isEqualTo(8);
        assertThat(header.getMetricsMap()).containsEntry("loss", 0.5);
        assertThat(header.getTensorsList())
                .extracting(s -> s.getName() + s.getShapeList())
                .containsExactly("dense/kernel[3, 5]", "dense/bias[7]", "scale[1]");
        // 92 bytes in chunks of at most 10 bytes, cutting through floats.
        assertThat(update.chunkSizes()).containsExactly(10, 10, 10, 10, 10, 10, 10, 10, 10, 2);
        assertThat(values(update.tensors())).isEqualTo(values(FakeAdapter.plusOne(gateway.model)));

        assertThat(gateway.reports)
                .extracting(EvaluationReport::getTaskId, EvaluationReport::getRound)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("e0", 0L),
                        org.assertj.core.groups.Tuple.tuple("e1", 1L));
        assertThat(gateway.reports)
                .allSatisfy(
                        r -> {
                            assertThat(r.getNumExamples()).isEqualTo(40);
                            assertThat(r.getMetricsMap())
                                    .containsEntry("accuracy", 0.75)
                                    .containsEntry("loss", 0.625);
                        });
        // Training reused the model loaded for e0; e1 needed it again after local training.
        assertThat(gateway.getModelCalls).hasValue(2);

        assertThat(summary)
                .isEqualTo(
                        new LearnerSummary(
                                "learner-1",
                                1,
                                0,
                                2,
                                0,
                                0,
                                true,
                                "federation finished after 1 round",
                                0));
        assertThat(gateway.leaves).isEmpty();
        assertThatThrownBy(learner::run).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest(name = "gateway limit {0} bytes -> chunks of {1}")
    @CsvSource({"69536, 4000", "8388608, 1048576"})
    void chunksStayBelowTheGatewaysMessageLimitAndOneMebibyte(int maxMessageBytes, int chunk)
            throws Exception {
        gateway = fixture.start(1);
        gateway.maxMessageBytes = maxMessageBytes;
        FakeAdapter adapter = FakeAdapter.large(300_000); // 1,200,000 bytes
        gateway.model = adapter.getWeights();
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        fixture.runToEnd(fixture.learner(adapter, fastOptions().build()));

        List<Integer> sizes = gateway.updates.get(0).chunkSizes();
        assertThat(sizes).allMatch(s -> s <= chunk);
        assertThat(sizes.get(0)).isEqualTo(chunk);
        assertThat(sizes).hasSize((1_200_000 + chunk - 1) / chunk);
        assertThat(values(gateway.updates.get(0).tensors()))
                .isEqualTo(values(FakeAdapter.plusOne(gateway.model)));
    }

    @Test
    void ignoresATaskIdItHasAlreadyCompleted() throws Exception {
        gateway = fixture.start(1);
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(train("t1", 1, 0), train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary = fixture.runToEnd(fixture.learner(adapter, fastOptions().build()));

        assertThat(adapter.trainTasks).hasSize(1);
        assertThat(gateway.submitAttempts).hasSize(1);
        assertThat(summary.roundsTrained()).isEqualTo(1);
    }

    @Test
    void uploadsItsWeightsAsTheInitialModelWhenTheGatewayAsks() throws Exception {
        gateway = fixture.start(1);
        gateway.initialModelRequested = true;
        gateway.enqueue(shutdown("done"));

        fixture.runToEnd(fixture.learner(FakeAdapter.small(), fastOptions().build()));

        assertThat(gateway.updates)
                .singleElement()
                .satisfies(
                        u -> {
                            assertThat(u.header().getTaskId()).isEqualTo("init");
                            assertThat(u.header().getRound()).isZero();
                            assertThat(u.header().getNumTrainingExamples()).isEqualTo(120);
                            assertThat(values(u.tensors()))
                                    .isEqualTo(values(FakeAdapter.model(0f)));
                        });
    }

    @Test
    void goesOnWhenAnotherLearnersInitialModelWasTaken() throws Exception {
        gateway = fixture.start(1);
        gateway.initialModelRequested = true;
        gateway.submitVerdict =
                h ->
                        h.getTaskId().equals("init")
                                ? Status.FAILED_PRECONDITION.withDescription(
                                        "the initial model is already set")
                                : null;
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary =
                fixture.runToEnd(fixture.learner(FakeAdapter.small(), fastOptions().build()));

        assertThat(gateway.updates).extracting(u -> u.header().getTaskId()).containsExactly("t1");
        assertThat(summary.roundsTrained()).isEqualTo(1);
        assertThat(summary.updatesDropped()).isZero();
    }

    @Test
    void resendsTheSameUpdateToTheNextGatewayWhenTheConnectionDropsMidUpload() throws Exception {
        gateway = fixture.start(2);
        FakeAdapter adapter = FakeAdapter.small();
        gateway.onDataChunk =
                (call, chunk) -> {
                    if (call == 1 && chunk == 3) {
                        gateway.kill(0);
                    }
                };
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary =
                fixture.runToEnd(fixture.learner(adapter, fastOptions().maxChunkBytes(10).build()));

        assertThat(adapter.trainTasks).as("trained once, uploaded twice").hasSize(1);
        assertThat(gateway.submitAttempts).hasSizeGreaterThanOrEqualTo(2);
        assertThat(gateway.submitAttempts)
                .allSatisfy(
                        h -> {
                            assertThat(h.getTaskId()).isEqualTo("t1");
                            assertThat(h.getRound()).isEqualTo(1);
                            assertThat(h.getNumTrainingExamples()).isEqualTo(120);
                        });
        assertThat(gateway.updates)
                .singleElement()
                .satisfies(
                        u ->
                                assertThat(values(u.tensors()))
                                        .isEqualTo(values(FakeAdapter.plusOne(gateway.model))));
        assertThat(gateway.streamCalls.get()).as("task stream re-opened").isGreaterThanOrEqualTo(2);
        assertThat(gateway.joins).hasSize(1);
        assertThat(summary.reconnects()).isGreaterThanOrEqualTo(1);
        assertThat(summary.roundsTrained()).isEqualTo(1);
    }

    @Test
    void resendsAnUpdateTheGatewayAnsweredWithUnavailable() throws Exception {
        gateway = fixture.start(1);
        gateway.submitVerdict =
                h ->
                        gateway.submitAttempts.size() == 1
                                ? Status.UNAVAILABLE.withDescription("checkpoint failed")
                                : null;
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary =
                fixture.runToEnd(fixture.learner(FakeAdapter.small(), fastOptions().build()));

        assertThat(gateway.submitAttempts).hasSize(2);
        assertThat(gateway.updates)
                .singleElement()
                .satisfies(u -> assertThat(u.header().getTaskId()).isEqualTo("t1"));
        assertThat(summary.reconnects()).isEqualTo(1);
        assertThat(summary.roundsTrained()).isEqualTo(1);
    }

    @Test
    void joinsAgainWhenTheGatewaySaysUnauthenticated() throws Exception {
        gateway = fixture.start(1);
        gateway.submitVerdict =
                h -> {
                    if ("token-1".equals(BearerToken.current())) {
                        gateway.validTokens.remove("token-1");
                        return Status.UNAUTHENTICATED.withDescription("token expired");
                    }
                    return null;
                };
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary =
                fixture.runToEnd(fixture.learner(FakeAdapter.small(), fastOptions().build()));

        assertThat(gateway.joins).hasSize(2);
        assertThat(gateway.updates)
                .singleElement()
                .satisfies(
                        u -> {
                            assertThat(u.header().getCredentials().getLearnerId())
                                    .isEqualTo("learner-2");
                            assertThat(u.bearer()).isEqualTo("token-2");
                            assertThat(u.header().getTaskId()).isEqualTo("t1");
                        });
        assertThat(summary.learnerId()).isEqualTo("learner-2");
        assertThat(summary.roundsTrained()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(
            value = Status.Code.class,
            names = {"FAILED_PRECONDITION", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"})
    void dropsAnUpdateTheGatewayRefusesAndGoesOn(Status.Code code) throws Exception {
        gateway = fixture.start(1);
        gateway.submitVerdict =
                h ->
                        h.getTaskId().equals("t1")
                                ? Status.fromCode(code).withDescription("round 1 is closed")
                                : null;
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(train("t1", 1, 0), train("t2", 2, 0), shutdown("done"));

        LearnerSummary summary = fixture.runToEnd(fixture.learner(adapter, fastOptions().build()));

        assertThat(gateway.submitAttempts)
                .extracting(UpdateHeader::getTaskId)
                .as("no retry of the refused update")
                .containsExactly("t1", "t2");
        assertThat(gateway.updates).extracting(u -> u.header().getTaskId()).containsExactly("t2");
        assertThat(adapter.trainTasks).hasSize(2);
        assertThat(summary.updatesDropped()).isEqualTo(1);
        assertThat(summary.roundsTrained()).isEqualTo(1);
        assertThat(summary.federationFinished()).isTrue();
    }

    @Test
    void givesUpWithAClearErrorAfterMaxReconnectAttemptsWaitingLongerEachTime() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Learner learner =
                fixture.closeAfter(
                        Learner.builder()
                                .gateways("127.0.0.1:" + port)
                                .adapter(FakeAdapter.small())
                                .options(
                                        fastOptions()
                                                .reconnectInitialBackoff(Duration.ofMillis(40))
                                                .reconnectMaxBackoff(Duration.ofMillis(200))
                                                .maxReconnectAttempts(3)
                                                .build())
                                .build());

        long start = System.nanoTime();
        assertThatThrownBy(() -> fixture.runToEnd(learner))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("gave up after 3 reconnect attempts")
                .hasMessageContaining("127.0.0.1:" + port)
                .hasMessageContaining("UNAVAILABLE");
        // Jittered waits of at least 20 + 40 + 80 ms.
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .isGreaterThanOrEqualTo(Duration.ofMillis(140));
    }

    @Test
    void saysOnceThatNothingListensAtAnAddressThatNeverAnsweredAndKeepsRetrying() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        int attempts = LearnerSession.NEVER_ANSWERED_AFTER + 3;
        List<String> logged = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        var context =
                (org.apache.logging.log4j.core.LoggerContext)
                        org.apache.logging.log4j.LogManager.getContext(false);
        var capture =
                new org.apache.logging.log4j.core.appender.AbstractAppender(
                        "capture",
                        null,
                        null,
                        true,
                        org.apache.logging.log4j.core.config.Property.EMPTY_ARRAY) {
                    @Override
                    public void append(org.apache.logging.log4j.core.LogEvent event) {
                        if (event.getLoggerName().equals(LearnerSession.class.getName())) {
                            logged.add(
                                    event.getLevel()
                                            + " "
                                            + event.getMessage().getFormattedMessage());
                        }
                    }
                };
        capture.start();
        var root = context.getConfiguration().getRootLogger();
        root.addAppender(capture, org.apache.logging.log4j.Level.ALL, null);
        context.updateLoggers();
        try {
            Learner learner =
                    fixture.closeAfter(
                            Learner.builder()
                                    .gateways("127.0.0.1:" + port)
                                    .adapter(FakeAdapter.small())
                                    .options(
                                            fastOptions()
                                                    .reconnectInitialBackoff(Duration.ofMillis(5))
                                                    .reconnectMaxBackoff(Duration.ofMillis(20))
                                                    .maxReconnectAttempts(attempts)
                                                    .build())
                                    .build());
            assertThatThrownBy(() -> fixture.runToEnd(learner))
                    .isInstanceOf(LearnerException.class)
                    .hasMessageContaining("gave up after " + attempts + " reconnect attempts")
                    .hasMessageContaining("nothing ever answered there");
        } finally {
            root.removeAppender("capture");
            context.updateLoggers();
            capture.stop();
        }
        List<String> nothing =
                logged.stream().filter(m -> m.contains("nothing has answered")).toList();
        assertThat(nothing)
                .singleElement()
                .satisfies(
                        m ->
                                assertThat(m)
                                        .startsWith(
                                                "ERROR nothing has answered at 127.0.0.1:"
                                                        + port
                                                        + " in "
                                                        + LearnerSession.NEVER_ANSWERED_AFTER
                                                        + " attempts (UNAVAILABLE")
                                        .contains("no federation gateway listens there")
                                        .contains("bin/metisfl status")
                                        .contains("gateway.port")
                                        .endsWith(
                                                "still retrying, up to "
                                                        + attempts
                                                        + " attempts in all"));
        // It comes after the 5th failed attempt, and the retries go on after it.
        int at = logged.indexOf(nothing.get(0));
        assertThat(logged.subList(0, at).stream().filter(m -> m.contains("reconnecting")))
                .hasSize(LearnerSession.NEVER_ANSWERED_AFTER - 1);
        assertThat(
                        logged.subList(at, logged.size()).stream()
                                .filter(m -> m.contains("reconnecting")))
                .hasSize(attempts - LearnerSession.NEVER_ANSWERED_AFTER + 1);
    }

    @Test
    void closeLeavesTheFederationAndEndsRun() throws Exception {
        gateway = fixture.start(1);
        Learner l = fixture.learner(FakeAdapter.small(), fastOptions().build());
        CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(l);
        fixture.await(() -> gateway.streamCalls.get() == 1);

        l.close();

        LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(summary.federationFinished()).isFalse();
        assertThat(summary.shutdownReason()).isEqualTo("closed by the user");
        assertThat(gateway.leaves)
                .singleElement()
                .satisfies(
                        r -> assertThat(r.getCredentials().getLearnerId()).isEqualTo("learner-1"));
    }

    @Test
    void reconnectsToTheNextGatewayWhenTheTaskStreamBreaksAndGetsItsTasksThere() throws Exception {
        gateway = fixture.start(2);
        Learner l = fixture.learner(FakeAdapter.small(), fastOptions().build());
        CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(l);
        fixture.await(() -> gateway.streamCalls.get() == 1);

        gateway.kill(0);
        fixture.await(() -> gateway.streamCalls.get() == 2);
        gateway.enqueue(train("t1", 1, 0), shutdown("done"));

        LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(summary.reconnects()).isEqualTo(1);
        assertThat(summary.roundsTrained()).isEqualTo(1);
        assertThat(gateway.joins).hasSize(1);
    }

    // -------------------------------------------------------------------------------------------

    /** Tensors as comparable text: name, shape and values. */
    private static List<String> values(List<NamedTensor> tensors) {
        return tensors.stream()
                .map(
                        t ->
                                t.name()
                                        + java.util.Arrays.toString(t.shape())
                                        + java.util.Arrays.toString(t.values()))
                .toList();
    }
}
