package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.proto.v1.TensorSpec;

class TaskDispatchTest {
    private final List<String> news = new ArrayList<>();
    private final AtomicInteger ids = new AtomicInteger();
    private final ModelBoard board = new ModelBoard(1024, false);
    private final UpdateLedger ledger = new UpdateLedger();

    private TaskDispatch dispatch(String... keyValues) {
        Map<String, String> settings = new java.util.HashMap<>();
        settings.put("train.epochs", "3");
        for (int i = 0; i < keyValues.length; i += 2) {
            settings.put(keyValues[i], keyValues[i + 1]);
        }
        return new TaskDispatch(
                GatewayOptions.from(FederationConfig.of(settings)),
                board,
                ledger,
                () -> "a-" + ids.incrementAndGet(),
                new TaskDispatch.StreamListener() {
                    @Override
                    public void connected(String learnerId) {
                        news.add("+" + learnerId);
                    }

                    @Override
                    public void disconnected(String learnerId) {
                        news.add("-" + learnerId);
                    }
                });
    }

    private void publishModel(long version) {
        board.offer(
                version,
                List.of(TensorSpec.newBuilder().setName("w").addShape(1).build()),
                List.of(ByteString.copyFrom(new byte[4])));
    }

    private static TaskDispatch.Plan plan(TaskDispatch d, long round, String... participants) {
        return new TaskDispatch.Plan(
                round, Set.of(participants), 1_000, d.trainTask(), Map.of("b", 17L), Set.of());
    }

    @Test
    void participantsGetTheRoundsTrainingTaskWithTheirOwnLocalSteps() {
        TaskDispatch d = dispatch();
        FakeTaskStream a = new FakeTaskStream();
        FakeTaskStream b = new FakeTaskStream();
        FakeTaskStream c = new FakeTaskStream();
        d.connect("a", a);
        d.connect("b", b);
        d.connect("c", c);
        publishModel(4);
        TaskDispatch.Plan p = plan(d, 5, "a", "b");
        d.open(p);
        d.dispatch(Set.of(), p.participants());
        assertThat(a.taskIds()).containsExactly("r5/train");
        assertThat(a.tasks.get(0).getModelVersion()).isEqualTo(4);
        assertThat(a.tasks.get(0).getTrain().getEpochs()).isEqualTo(3);
        assertThat(a.tasks.get(0).getTrain().getLocalSteps()).isZero();
        assertThat(b.tasks.get(0).getTrain().getLocalSteps()).isEqualTo(17);
        assertThat(c.tasks).isEmpty();
        assertThat(news).containsExactly("+a", "+b", "+c");
    }

    @Test
    void aReconnectingLearnerGetsWhatIsOutstandingButNotWhatItAlreadyDid() {
        TaskDispatch d = dispatch();
        publishModel(1);
        TaskDispatch.Plan p = plan(d, 2, "a", "b");
        d.open(p);
        d.evaluate(1, Set.of("a", "b"));
        ledger.accept(UpdateLedger.updateKey("b", "2"), new CompletableFuture<>());
        ledger.markEvaluated("b", 1);
        FakeTaskStream a = new FakeTaskStream();
        FakeTaskStream b = new FakeTaskStream();
        d.connect("a", a);
        d.connect("b", b);
        assertThat(a.taskIds()).containsExactly("r1/evaluate", "r2/train");
        assertThat(b.taskIds()).isEmpty();
    }

    @Test
    void aStreamThatOpensAsThePlanArrivesGetsTheRoundsTaskOnce() {
        TaskDispatch d = dispatch();
        publishModel(1);
        TaskDispatch.Plan p = plan(d, 2, "a");
        d.open(p);
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a); // reads the open round
        d.dispatch(Set.of(), p.participants()); // the plan's own hand-out, racing the connect
        assertThat(a.taskIds()).containsExactly("r2/train");
        FakeTaskStream again = new FakeTaskStream();
        d.connect("a", again); // a new stream (a reconnect) gets it again
        assertThat(again.taskIds()).containsExactly("r2/train");
    }

    @Test
    void aDroppedParticipantIsNotAskedToTrainAgain() {
        TaskDispatch d = dispatch();
        publishModel(0);
        d.open(plan(d, 1, "a", "b"));
        d.drop(Set.of("b"));
        assertThat(d.plan().dropped()).containsExactly("b");
        FakeTaskStream b = new FakeTaskStream();
        d.connect("b", b);
        assertThat(b.tasks).isEmpty();
        d.extendDeadline(2_000);
        assertThat(d.plan().dropped()).as("kept with a later deadline").containsExactly("b");
    }

    @Test
    void aStreamReplacedOrCancelledIsReportedOnceAndALeavingLearnersStreamIsClosed() {
        TaskDispatch d = dispatch();
        FakeTaskStream first = new FakeTaskStream();
        FakeTaskStream second = new FakeTaskStream();
        d.connect("a", first);
        d.connect("a", second);
        assertThat(first.completed).as("the older stream is closed").isTrue();
        first.cancel(); // the old stream's cancel is not news: a newer one is open
        assertThat(news).containsExactly("+a", "+a");
        second.cancel();
        assertThat(news).containsExactly("+a", "+a", "-a");
        assertThat(d.connectedLearners()).isZero();
        FakeTaskStream third = new FakeTaskStream();
        d.connect("a", third);
        d.disconnect("a");
        assertThat(third.completed).isTrue();
        assertThat(d.connectedLearners()).isZero();
    }

    @Test
    void asynchronousLearnersAlwaysHoldOneTaskOnTheNewestModel() {
        TaskDispatch d = dispatch("protocol.type", "asynchronous");
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a);
        assertThat(a.tasks).as("no model yet").isEmpty();
        publishModel(0);
        d.dispatch(Set.of(), Set.of());
        assertThat(a.taskIds()).containsExactly("a-1");
        d.dispatch(Set.of(), Set.of());
        assertThat(a.taskIds()).as("one outstanding task").containsExactly("a-1");
        publishModel(3);
        d.onAsyncUpdateAccepted("a");
        assertThat(a.taskIds()).containsExactly("a-1", "a-2");
        assertThat(a.tasks.get(1).getModelVersion()).isEqualTo(3);
    }

    @Test
    void anAcceptedUpdatesNextTaskDoesNotWaitForItsCheckpointUntilTwoAwaitAcknowledgement() {
        TaskDispatch d = dispatch("protocol.type", "asynchronous");
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a);
        publishModel(0);
        d.dispatch(Set.of(), Set.of());
        assertThat(a.taskIds()).containsExactly("a-1");
        // a-1's update is accepted, its checkpoint not complete: the next task comes at once, on
        // the model served now (the update is not in it yet).
        d.onAsyncUpdateAccepted("a");
        assertThat(a.taskIds()).containsExactly("a-1", "a-2");
        assertThat(a.tasks.get(1).getModelVersion()).isZero();
        assertThat(d.unacknowledged("a")).isEqualTo(1);
        // a-2's update is accepted too: two await acknowledgement, the next task waits.
        publishModel(1);
        d.onAsyncUpdateAccepted("a");
        d.dispatch(Set.of(), Set.of()); // a new model does not bypass the wait either
        assertThat(a.taskIds()).containsExactly("a-1", "a-2");
        assertThat(d.unacknowledged("a")).isEqualTo(2);
        // The checkpoint holding a-1's update completes: its task follows, on the newest model.
        publishModel(2);
        d.onAsyncUpdateDurable("a");
        assertThat(a.taskIds()).containsExactly("a-1", "a-2", "a-3");
        assertThat(a.tasks.get(2).getModelVersion()).isEqualTo(2);
        d.onAsyncUpdateDurable("a");
        assertThat(a.taskIds()).as("its one outstanding task, not another").hasSize(3);
        assertThat(d.unacknowledged("a")).isZero();
    }

    @Test
    void aLearnerWhoseUpdateIsRefusedAsTooStaleGetsANewTaskOnTheNewestModel() {
        TaskDispatch d = dispatch("protocol.type", "asynchronous");
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a);
        publishModel(0);
        d.dispatch(Set.of(), Set.of());
        assertThat(a.taskIds()).containsExactly("a-1");
        publishModel(9);
        // a-1's update comes back too stale: told to train on its next task, the learner gets one
        d.onAsyncUpdateRefused("a", "a-1");
        assertThat(a.taskIds()).containsExactly("a-1", "a-2");
        assertThat(a.tasks.get(1).getModelVersion()).isEqualTo(9);
        // a refusal of a task it no longer holds (a resend of an older one) changes nothing
        d.onAsyncUpdateRefused("a", "a-1");
        d.dispatch(Set.of(), Set.of());
        assertThat(a.taskIds()).containsExactly("a-1", "a-2");
    }

    @Test
    void theShutdownWaitsUntilEveryAcceptedUpdateIsDurable() {
        TaskDispatch d = dispatch();
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a);
        CompletableFuture<Void> durable = new CompletableFuture<>();
        ledger.accept("a@1", durable);
        assertThat(d.finish("done")).isTrue();
        assertThat(d.finish("again")).isFalse();
        d.shutdownWhenDurable();
        assertThat(a.tasks).isEmpty();
        durable.complete(null);
        assertThat(a.taskIds()).containsExactly("shutdown");
        assertThat(a.tasks.get(0).getShutdown().getReason()).isEqualTo("done");
        assertThat(a.completed).isTrue();
        FakeTaskStream late = new FakeTaskStream();
        d.connect("b", late);
        assertThat(late.taskIds()).containsExactly("shutdown");
    }

    /**
     * Today a stream that fails on send is dropped without a DISCONNECTED (the cancel handler then
     * finds it gone); the learner stays active at the coordinator until it reconnects.
     */
    @Test
    void aBrokenStreamIsDroppedWithoutNews() {
        TaskDispatch d = dispatch();
        FakeTaskStream a = new FakeTaskStream();
        d.connect("a", a);
        a.broken = true;
        publishModel(0);
        TaskDispatch.Plan p = plan(d, 1, "a");
        d.open(p);
        d.dispatch(Set.of(), p.participants());
        assertThat(d.connectedLearners()).isZero();
        assertThat(news).containsExactly("+a");
    }

    @Test
    void evaluatorsOfTheLastEightEvaluatedVersionsMayStillReport() {
        TaskDispatch d = dispatch();
        d.evaluate(1, Set.of("a"));
        d.evaluate(2, Set.of("b"));
        assertThat(d.isEvaluator("a", 1)).isTrue();
        assertThat(d.isEvaluator("a", 2)).isFalse();
        assertThat(d.isEvaluator("b", 2)).isTrue();
        assertThat(d.isEvaluator("b", 3)).isFalse();
        for (long v = 3; v <= 9; v++) {
            d.evaluate(v, Set.of("c"));
        }
        assertThat(d.isEvaluator("a", 1)).as("forgotten after 8 newer versions").isFalse();
        assertThat(d.isEvaluator("b", 2)).isTrue();
        assertThat(d.evalVersion()).isEqualTo(9);
    }
}
