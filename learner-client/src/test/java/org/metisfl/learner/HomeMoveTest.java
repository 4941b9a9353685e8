package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.learner.FakeGatewayFixture.fastOptions;
import static org.metisfl.learner.FakeGatewayFixture.shutdown;
import static org.metisfl.learner.FakeGatewayFixture.train;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.metisfl.proto.v1.Task;

/**
 * A learner's move back to its home gateway makes before it breaks: two fake gateways (real gRPC on
 * 127.0.0.1), the home behind a proxy the test cuts and restores. The learner joins at home, moves
 * to the other gateway when the home is cut, and back once it is restored; the gateways record, on
 * one clock, when each task stream was registered and when the learner closed it.
 */
class HomeMoveTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @RegisterExtension final FakeGatewayFixture fixture = FakeGatewayFixture.timeout(TIMEOUT);

    private FakeGateway home;
    private FakeGateway other;
    private SwitchableProxy proxy;
    private FakeAdapter adapter;
    private Learner learner;
    private CompletableFuture<LearnerSummary> run;

    /**
     * Joined at home (round 1 there), moved to the other gateway by the cut (round 2 there), the
     * home's proxy restored: the learner is about to try home again.
     */
    private void awayFromHome(boolean homeSendsHeadersAtRegistration) throws Exception {
        home = FakeGateway.start(1, homeSendsHeadersAtRegistration);
        other = FakeGateway.start(1);
        // The learner's token is good at both (one federation).
        other.validTokens.add("token-1");
        proxy = new SwitchableProxy(port(home));
        adapter = FakeAdapter.of(FakeAdapter.model(0f));
        learner =
                fixture.closeAfter(
                        Learner.builder()
                                .gateways(List.of(proxy.address(), other.addresses().get(0)))
                                .name("alice")
                                .adapter(adapter)
                                .options(fastOptions().build())
                                .build());
        run = LearnerThreads.runAsync(learner);
        fixture.await(() -> home.streamsOpenedAt.size() == 1);
        home.enqueue(train("r1", 1, 0));
        fixture.await(() -> home.updates.size() == 1 && learner.unacknowledgedUpdates() == 0);

        proxy.cut();
        fixture.await(() -> other.streamsOpenedAt.size() == 1);
        other.enqueue(train("r2", 2, 0));
        fixture.await(() -> other.updates.size() == 1 && learner.unacknowledgedUpdates() == 0);
        assertThat(home.streamsOpenedAt).hasSize(1);
    }

    @AfterEach
    void closeGateways() throws Exception {
        if (learner != null) {
            learner.close();
        }
        for (FakeGateway g : new FakeGateway[] {home, other}) {
            if (g != null) {
                g.close();
            }
        }
        if (proxy != null) {
            proxy.close();
        }
    }

    @Test
    void theStreamAtHomeIsRegisteredBeforeTheOneLeftIsClosedAndATaskSentOnTheOneLeftRunsOnce()
            throws Exception {
        awayFromHome(true);
        // The gateway left sends the next round's task just as the home registers the new stream
        // (the job's plan reached it first); the home's headers go out only 300 ms later.
        home.onStreamRegistered =
                id -> {
                    other.enqueue(train("r3", 3, 0));
                    pause(300);
                };
        proxy.restore();

        fixture.await(() -> home.updates.size() == 2);
        // The learner closes the stream left itself, a moment after the move.
        fixture.await(() -> other.streamsClosedAt.size() == 1);
        home.enqueue(shutdown("done"));
        LearnerSummary summary = run.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

        assertThat(summary.homeReturns()).isEqualTo(1);
        assertThat(summary.reconnects()).isEqualTo(1);
        assertThat(summary.roundsTrained()).isEqualTo(3);
        // r3 came on the stream left only, during the overlap: taken, trained once, sent home.
        assertThat(adapter.trainTasks).hasSize(3);
        assertThat(taskIds(home)).containsExactly("r1", "r3");
        assertThat(taskIds(other)).containsExactly("r2");
        // Make before break: the stream left was closed by the learner, after the home's opened.
        assertThat(home.streamsOpenedAt).hasSize(2);
        assertThat(other.streamsClosedAt).hasSize(1);
        assertThat(other.streamsClosedAt.get(0)).isGreaterThan(home.streamsOpenedAt.get(1));
    }

    @Test
    void aRoundTaskSentOnBothStreamsDuringTheOverlapRunsOnce() throws Exception {
        awayFromHome(true);
        // As the job does: the open round's task goes to every gateway the learner is at.
        Task r3 = train("r3", 3, 0);
        home.onStreamRegistered =
                id -> {
                    other.enqueue(r3);
                    home.enqueue(r3);
                };
        proxy.restore();

        fixture.await(() -> home.updates.size() == 2);
        // Both copies have long arrived when the learner ends (the stream left lingers 1 s).
        pause(1500);
        // The learner closes the stream left itself, a moment after the move.
        fixture.await(() -> other.streamsClosedAt.size() == 1);
        home.enqueue(shutdown("done"));
        LearnerSummary summary = run.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

        assertThat(summary.homeReturns()).isEqualTo(1);
        assertThat(adapter.trainTasks).hasSize(3);
        assertThat(home.submitAttempts).hasSize(2);
        assertThat(taskIds(home)).containsExactly("r1", "r3");
        assertThat(other.streamsClosedAt.get(0)).isGreaterThan(home.streamsOpenedAt.get(1));
    }

    @Test
    void aStreamThatFailsToOpenAtHomeLeavesTheLearnerOnTheOtherGatewayUntilALaterTry()
            throws Exception {
        awayFromHome(true);
        home.refuseStreams = Integer.MAX_VALUE;
        proxy.restore();

        // Tries at home fail; the learner stays where it is, and keeps working there.
        fixture.await(() -> home.refusedStreams.get() >= 2);
        assertThat(other.streamsClosedAt).isEmpty();
        other.enqueue(train("r3", 3, 0));
        fixture.await(() -> other.updates.size() == 2 && learner.unacknowledgedUpdates() == 0);
        assertThat(other.streamsClosedAt).isEmpty();
        assertThat(other.streamsOpenedAt).hasSize(1);

        // The home takes streams again: a later try moves the learner there.
        home.refuseStreams = 0;
        fixture.await(() -> home.streamsOpenedAt.size() == 2);
        home.enqueue(train("r4", 4, 0));
        fixture.await(() -> home.updates.size() == 2);
        // The learner closes the stream left itself, a moment after the move.
        fixture.await(() -> other.streamsClosedAt.size() == 1);
        home.enqueue(shutdown("done"));
        LearnerSummary summary = run.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

        assertThat(summary.homeReturns()).isEqualTo(1);
        assertThat(summary.reconnects()).as("only the cut's").isEqualTo(1);
        assertThat(taskIds(home)).containsExactly("r1", "r4");
        assertThat(taskIds(other)).containsExactly("r2", "r3");
        assertThat(other.streamsClosedAt).hasSize(1);
        assertThat(other.streamsClosedAt.get(0)).isGreaterThan(home.streamsOpenedAt.get(1));
    }

    @Test
    void aHomeThatSendsNoHeadersBeforeItsFirstTaskIsMovedToWithThatTask() throws Exception {
        awayFromHome(false);
        proxy.restore();
        fixture.await(() -> home.streamsOpenedAt.size() == 2);
        pause(300);
        // Not established yet: the learner is still at the other gateway.
        assertThat(other.streamsClosedAt).isEmpty();

        Task r3 = train("r3", 3, 0);
        other.enqueue(r3);
        home.enqueue(r3);
        fixture.await(() -> home.updates.size() == 2);
        // The learner closes the stream left itself, a moment after the move.
        fixture.await(() -> other.streamsClosedAt.size() == 1);
        home.enqueue(shutdown("done"));
        LearnerSummary summary = run.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

        assertThat(summary.homeReturns()).isEqualTo(1);
        assertThat(adapter.trainTasks).hasSize(3);
        assertThat(taskIds(home)).containsExactly("r1", "r3");
        assertThat(taskIds(other)).containsExactly("r2");
        assertThat(other.streamsClosedAt.get(0)).isGreaterThan(home.streamsOpenedAt.get(1));
    }

    private static List<String> taskIds(FakeGateway g) {
        return g.updates.stream().map(u -> u.header().getTaskId()).toList();
    }

    private static int port(FakeGateway g) {
        String address = g.addresses().get(0);
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
