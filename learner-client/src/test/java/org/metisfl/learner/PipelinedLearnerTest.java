package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.learner.FakeGatewayFixture.shutdown;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.metisfl.learner.internal.LearnerSession;
import org.metisfl.proto.v1.Task;
import org.metisfl.proto.v1.UpdateHeader;

/**
 * The learner against a fake gateway that answers uploads only when the test releases them (as a
 * real one answers after the checkpoint): asynchronous tasks are pipelined, at most two updates
 * unacknowledged; synchronous rounds still wait for each answer.
 */
class PipelinedLearnerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @RegisterExtension final FakeGatewayFixture fixture = FakeGatewayFixture.timeout(TIMEOUT);

    private FakeGateway gateway;

    @Test
    void trainsTheNextAsynchronousTaskWhileTwoUpdatesAwaitTheirAcknowledgementButNotAThird()
            throws Exception {
        gateway = fixture.start(1);
        gateway.holdAnswers = true;
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(async("a-1", 0), async("a-2", 0), async("a-3", 0));
        try (LogCapture log = LogCapture.of(LearnerSession.class)) {
            Learner learner = learner(adapter);
            CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(learner);

            fixture.await(() -> gateway.updates.size() == 2);
            Thread.sleep(300);
            assertThat(gateway.updates).hasSize(2);
            assertThat(adapter.trainTasks).as("the third waits for an answer").hasSize(2);
            assertThat(learner.unacknowledgedUpdates()).isEqualTo(2);

            assertThat(gateway.releaseAnswers(1)).isEqualTo(1);
            fixture.await(() -> gateway.updates.size() == 3);
            assertThat(taskIds(gateway.updates.stream().map(u -> u.header()).toList()))
                    .containsExactly("a-1", "a-2", "a-3");
            fixture.await(() -> learner.unacknowledgedUpdates() == 2);

            gateway.enqueue(shutdown("done"));
            fixture.await(() -> gateway.heldAnswerCount() == 2);
            Thread.sleep(200);
            assertThat(running).as("the Shutdown waits for the acknowledgements").isNotDone();
            gateway.releaseAnswers(2);
            LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

            assertThat(summary.roundsTrained()).isEqualTo(3);
            assertThat(summary.updatesDropped()).isZero();
            assertThat(summary.updatesUnacknowledged()).isZero();
            assertThat(summary.federationFinished()).isTrue();
            assertThat(gateway.submitAttempts).hasSize(3);
            List<String> lines = log.lines();
            assertThat(lines)
                    .anyMatch(
                            l ->
                                    l.contains("update sent, awaiting its acknowledgement")
                                            && l.contains("unacknowledged: 2 (task a-1 of round 0")
                                            && l.contains("task a-2 of round 0"));
            assertThat(lines)
                    .anyMatch(
                            l ->
                                    l.contains("update of task a-1 accepted, acknowledged")
                                            && l.contains("unacknowledged: 1 (task a-2"));
        }
    }

    @Test
    void synchronousRoundsStillWaitForEachAnswer() throws Exception {
        gateway = fixture.start(1);
        gateway.holdAnswers = true;
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(round(1), round(2));
        Learner learner = learner(adapter);
        CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(learner);

        fixture.await(() -> gateway.updates.size() == 1);
        Thread.sleep(300);
        assertThat(adapter.trainTasks).as("round 2 waits for round 1's answer").hasSize(1);
        assertThat(learner.unacknowledgedUpdates()).isEqualTo(1);
        gateway.releaseAnswers(1);
        fixture.await(() -> gateway.heldAnswerCount() == 1);
        gateway.enqueue(shutdown("done"));
        gateway.releaseAnswers(1);

        LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(summary.roundsTrained()).isEqualTo(2);
        assertThat(summary.updatesUnacknowledged()).isZero();
    }

    @Test
    void aTooStaleOutstandingUpdateIsDroppedAndLoggedWhileTheNextOneCounts() throws Exception {
        gateway = fixture.start(1);
        gateway.holdAnswers = true;
        String reason =
                "update of task a-1 is 3 versions behind model version 5 (async.max-staleness"
                        + " 2); the update was not counted, train on your next task";
        gateway.submitVerdict =
                h ->
                        h.getTaskId().equals("a-1")
                                ? Status.FAILED_PRECONDITION.withDescription(reason)
                                : null;
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(async("a-1", 2), async("a-2", 5));
        try (LogCapture log = LogCapture.of(LearnerSession.class)) {
            Learner learner = learner(adapter);
            CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(learner);
            fixture.await(() -> gateway.heldAnswerCount() == 1);
            gateway.enqueue(shutdown("done"));
            gateway.releaseAnswers(1);
            LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

            assertThat(summary.roundsTrained()).isEqualTo(1);
            assertThat(summary.updatesDropped()).isEqualTo(1);
            assertThat(summary.updatesUnacknowledged()).isZero();
            assertThat(taskIds(gateway.submitAttempts))
                    .as("the refused update is not sent again")
                    .containsExactly("a-1", "a-2");
            assertThat(log.lines())
                    .anyMatch(
                            l ->
                                    l.startsWith("WARN round 2: trained 1 epoch")
                                            && l.contains(
                                                    "update dropped, refused (FAILED_PRECONDITION: "
                                                            + reason
                                                            + ")")
                                            && l.contains("task a-1"));
        }
    }

    @Test
    void aReconnectSendsBothOutstandingUpdatesAgainAndEachCountsOnce() throws Exception {
        gateway = fixture.start(2);
        gateway.holdAnswers = true;
        FakeAdapter adapter = FakeAdapter.small();
        gateway.enqueue(async("a-1", 0), async("a-2", 0));
        Learner learner = learner(adapter);
        CompletableFuture<LearnerSummary> running = LearnerThreads.runAsync(learner);
        fixture.await(() -> gateway.updates.size() == 2);
        assertThat(learner.unacknowledgedUpdates()).isEqualTo(2);

        gateway.kill(0);
        fixture.await(() -> gateway.submitAttempts.size() == 4);
        assertThat(taskIds(gateway.submitAttempts)).containsExactly("a-1", "a-2", "a-1", "a-2");
        gateway.enqueue(shutdown("done"));
        fixture.await(() -> gateway.heldAnswerCount() == 4);
        gateway.releaseAnswers(4); // the first two calls are gone with their server

        LearnerSummary summary = running.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(summary.roundsTrained()).as("DUPLICATE counts as done").isEqualTo(2);
        assertThat(summary.reconnects()).isEqualTo(1);
        assertThat(summary.updatesUnacknowledged()).isZero();
        assertThat(adapter.trainTasks).hasSize(2);
    }

    // -------------------------------------------------------------------------------------------

    private Learner learner(ModelAdapter adapter) {
        return fixture.learner(adapter, FakeGatewayFixture.fastOptions().build());
    }

    private static List<String> taskIds(List<UpdateHeader> headers) {
        return headers.stream().map(UpdateHeader::getTaskId).toList();
    }

    /** An asynchronous task (its id as the gateway makes them), on the model of {@code version}. */
    private static Task async(String id, long version) {
        return Task.newBuilder()
                .setTaskId(id)
                .setRound(version)
                .setModelVersion(version)
                .setTrain(org.metisfl.proto.v1.TrainTask.newBuilder().setEpochs(1))
                .build();
    }

    private static Task round(long round) {
        return Task.newBuilder()
                .setTaskId("r" + round + "/train")
                .setRound(round)
                .setModelVersion(0)
                .setTrain(org.metisfl.proto.v1.TrainTask.newBuilder().setEpochs(1))
                .build();
    }
}
