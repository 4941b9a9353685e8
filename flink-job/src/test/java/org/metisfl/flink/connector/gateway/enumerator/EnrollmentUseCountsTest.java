package org.metisfl.flink.connector.gateway.enumerator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.connector.testutils.source.reader.TestingSplitEnumeratorContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;

/**
 * The enumerator keeps an enrollment token's joins within its limit across all gateways, from what
 * each gateway reports it holds when it starts and what it granted since.
 */
class EnrollmentUseCountsTest {
    private TestingSplitEnumeratorContext<GatewaySplit> context;
    private GatewayEnumerator enumerator;
    private long nextRequest;

    @BeforeEach
    void start() {
        context = new TestingSplitEnumeratorContext<>(2);
        context.registerReader(0, "localhost");
        context.registerReader(1, "localhost");
        enumerator = new GatewayEnumerator(context, new GatewayEnumeratorState("k", List.of()));
        enumerator.start();
    }

    /** Asks for a use at {@code gateway}; its answer, or null if none was sent (yet). */
    private Boolean ask(int gateway, String token, int maxUses) {
        long id = ++nextRequest;
        enumerator.handleSourceEvent(gateway, new EnrollmentUseRequest(id, token, maxUses));
        return answerTo(gateway, id);
    }

    private Boolean answerTo(int gateway, long request) {
        for (SourceEvent e : context.getSentEvents().getOrDefault(gateway, List.of())) {
            if (e instanceof EnrollmentUseAnswer a && a.request() == request) {
                return a.granted();
            }
        }
        return null;
    }

    private void report(int gateway, Map<String, Integer> holds) {
        enumerator.handleSourceEvent(gateway, new EnrollmentUsesReport(holds));
    }

    @Test
    void aSingleUseTokenAdmitsOneJoinAcrossTheGateways() {
        report(0, Map.of());
        report(1, Map.of());
        assertThat(ask(1, "t", 1)).isTrue();
        assertThat(ask(0, "t", 1)).as("the other gateway").isFalse();
        assertThat(ask(1, "t", 1)).as("the same gateway").isFalse();
        assertThat(ask(0, "u", 1)).as("another token").isTrue();
    }

    @Test
    void aTokenForThreeJoinsAdmitsThreeWhereverTheyJoin() {
        report(0, Map.of());
        report(1, Map.of());
        assertThat(ask(0, "t", 3)).isTrue();
        assertThat(ask(1, "t", 3)).isTrue();
        assertThat(ask(0, "t", 3)).isTrue();
        assertThat(ask(1, "t", 3)).isFalse();
        assertThat(ask(0, "t", 3)).isFalse();
    }

    @Test
    void aTokenWithoutALimitIsAlwaysGranted() {
        report(0, Map.of());
        report(1, Map.of("t", 1000));
        for (int i = 0; i < 5; i++) {
            assertThat(ask(i % 2, "t", 0)).isTrue();
        }
    }

    @Test
    void requestsWaitUntilEveryGatewayReportedWhatItHolds() {
        report(0, Map.of());
        long first = ++nextRequest;
        enumerator.handleSourceEvent(0, new EnrollmentUseRequest(first, "t", 2));
        assertThat(answerTo(0, first)).as("gateway 1 has not reported").isNull();
        // Gateway 1 holds one use of t from a checkpoint taken before (its own count).
        report(1, Map.of("t", 1));
        assertThat(answerTo(0, first)).isTrue();
        assertThat(ask(1, "t", 2)).as("1 held at gateway 1 + 1 granted to gateway 0").isFalse();
    }

    @Test
    void aGatewayRestoredFromACheckpointGivesBackTheUsesGrantedAfterIt() {
        report(0, Map.of("t", 1));
        report(1, Map.of());
        assertThat(ask(0, "t", 2)).isTrue();
        assertThat(ask(1, "t", 2)).isFalse();
        // Gateway 0 fails and restarts from a checkpoint holding only its first use: the second
        // use's join was never answered (a join is answered from the checkpoint that holds it).
        report(0, Map.of("t", 1));
        assertThat(ask(1, "t", 2)).isTrue();
        assertThat(ask(0, "t", 2)).isFalse();
    }

    @Test
    void anAnswerIsNotSentToAGatewayThatIsGone() {
        TestingSplitEnumeratorContext<GatewaySplit> one = new TestingSplitEnumeratorContext<>(2);
        one.registerReader(0, "localhost");
        GatewayEnumerator e =
                new GatewayEnumerator(one, new GatewayEnumeratorState("k", List.of()));
        e.handleSourceEvent(0, new EnrollmentUsesReport(Map.of()));
        e.handleSourceEvent(1, new EnrollmentUsesReport(Map.of()));
        e.handleSourceEvent(1, new EnrollmentUseRequest(1, "t", 1));
        assertThat(one.getSentEvents().getOrDefault(1, List.of())).isEmpty();
        // The use stays with gateway 1 until it reports again as it restarts.
        e.handleSourceEvent(0, new EnrollmentUseRequest(2, "t", 1));
        assertThat(one.getSentEvents().get(0)).containsExactly(new EnrollmentUseAnswer(2, false));
        e.handleSourceEvent(1, new EnrollmentUsesReport(Map.of()));
        e.handleSourceEvent(0, new EnrollmentUseRequest(3, "t", 1));
        assertThat(one.getSentEvents().get(0)).contains(new EnrollmentUseAnswer(3, true));
    }
}
