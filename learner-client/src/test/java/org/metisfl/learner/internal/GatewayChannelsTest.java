package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Which gateway the learner talks to: reconnects go home first when away from it, and round-robin
 * otherwise; away from home, the home is tried on its own channel after growing waits and adopted
 * once it connects. Channels are fakes whose connectivity the test sets; time is a number.
 */
class GatewayChannelsTest {
    private static final GatewayAddress A = new GatewayAddress("10.0.0.1", 50051);
    private static final GatewayAddress B = new GatewayAddress("10.0.0.2", 50051);
    private static final GatewayAddress C = new GatewayAddress("10.0.0.3", 50051);
    private static final long MS = 1_000_000L;

    /** No jitter: delay(n) = 100 ms * 2^(n-1), at most 2 s. */
    private final Backoff backoff =
            new Backoff(Duration.ofMillis(200), Duration.ofSeconds(4), () -> 0.0);

    private final List<FakeChannel> opened = new ArrayList<>();

    private GatewayChannels channels(GatewayAddress... addresses) {
        return new GatewayChannels(
                List.of(addresses),
                address -> {
                    FakeChannel c = new FakeChannel(address);
                    opened.add(c);
                    return c;
                },
                backoff,
                Duration.ofSeconds(1),
                () -> wakes++);
    }

    private int wakes;

    private static GatewayAddress target(ManagedChannel c) {
        return ((FakeChannel) c).address;
    }

    @Test
    void beforeJoiningAndAtHomeEveryReconnectMovesOnRoundRobin() {
        GatewayChannels ch = channels(A, B, C);
        assertThat(target(ch.channel())).isEqualTo(A);
        assertThat(ch.home()).isNull();
        assertThat(ch.atHome()).isTrue();
        assertThat(target(ch.next(1))).isEqualTo(B);
        ch.joined();
        assertThat(ch.home()).isEqualTo(B);
        // Home failed: the first attempt goes to the next gateway, and so does every later one.
        assertThat(ch.nextAddress(1)).isEqualTo(C);
        assertThat(target(ch.next(1))).isEqualTo(C);
        assertThat(ch.atHome()).isFalse();
        assertThat(target(ch.next(2))).isEqualTo(A);
        assertThat(target(ch.next(3))).isEqualTo(B);
        assertThat(ch.atHome()).isTrue();
        // Each move shut the channel it left down at once (its calls are resent).
        assertThat(opened.subList(0, 4)).allMatch(c -> c.shutdownNow);
    }

    @Test
    void awayFromHomeTheFirstReconnectGoesHomeThenEveryGatewayIsTriedInTurn() {
        GatewayChannels ch = channels(A, B, C);
        ch.channel();
        ch.joined(); // home A
        assertThat(target(ch.next(1))).isEqualTo(B); // A failed
        // Later the learner's call to B breaks: the first attempt goes home.
        assertThat(ch.nextAddress(1)).isEqualTo(A);
        assertThat(target(ch.next(1))).isEqualTo(A);
        // A still dead: attempts 2, 3, 4 go round the list, so a dead home is not retried in a
        // tight loop and C is reached too.
        assertThat(target(ch.next(2))).isEqualTo(B);
        assertThat(target(ch.next(3))).isEqualTo(C);
        assertThat(target(ch.next(4))).isEqualTo(A);
    }

    @Test
    void awayFromHomeTheHomeIsTriedAfterTheFirstWaitAndAdoptedOnceItConnects() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ManagedChannel foreign = ch.next(1);
        assertThat(target(foreign)).isEqualTo(B);
        int before = opened.size();

        long t0 = 1_000 * MS;
        assertThat(ch.probeHome(t0)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(ch.probeHome(t0 + 99 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(opened).hasSize(before); // no try before the first wait (100 ms) is over
        assertThat(ch.probeHome(t0 + 100 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(opened).hasSize(before + 1);
        FakeChannel probe = opened.get(before);
        assertThat(probe.address).isEqualTo(A);
        assertThat(probe.connectRequested).isTrue();
        assertThat(target(ch.channel())).isEqualTo(B); // still working through B

        probe.state = ConnectivityState.READY;
        assertThat(ch.probeHome(t0 + 150 * MS)).isEqualTo(GatewayChannels.HomeProbe.REACHABLE);
        assertThat(ch.adoptHome()).as("the channel left").isSameAs(foreign);
        assertThat(ch.channel()).isSameAs(probe);
        assertThat(ch.address()).isEqualTo(A);
        assertThat(ch.atHome()).isTrue();
        // The channel left ends in order (calls on it may finish), not at once.
        assertThat(((FakeChannel) foreign).shutdown).isTrue();
        assertThat(((FakeChannel) foreign).shutdownNow).isFalse();
        assertThat(ch.probeHome(t0 + 200 * MS)).isEqualTo(GatewayChannels.HomeProbe.AT_HOME);
        assertThat(opened).hasSize(before + 1);
    }

    @Test
    void aMoveOpensOnTheHomesChannelWhileTheOneLeftStaysOpenUntilItIsAdopted() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ManagedChannel foreign = ch.next(1);
        ch.probeHome(0);
        ch.probeHome(100 * MS);
        FakeChannel probe = opened.get(opened.size() - 1);
        probe.state = ConnectivityState.READY;
        assertThat(ch.probeHome(110 * MS)).isEqualTo(GatewayChannels.HomeProbe.REACHABLE);

        assertThat(ch.homeChannel()).isSameAs(probe);
        assertThat(ch.moving()).isTrue();
        // Still working through B, its channel open, until the caller adopts the home.
        assertThat(ch.channel()).isSameAs(foreign);
        assertThat(ch.atHome()).isFalse();
        assertThat(((FakeChannel) foreign).isShutdown()).isFalse();
        // Under way, the try is the caller's: neither timed out nor counted as failed when its
        // connection flickers, and no other try starts.
        probe.state = ConnectivityState.CONNECTING;
        assertThat(ch.probeHome(5_000 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(ch.nanosUntilProbe(5_000 * MS)).isEqualTo(-1);
        assertThat(probe.shutdownNow).isFalse();
        assertThat(opened).hasSize(3);

        assertThat(ch.adoptHome()).isSameAs(foreign);
        assertThat(ch.channel()).isSameAs(probe);
        assertThat(ch.atHome()).isTrue();
        assertThat(ch.moving()).isFalse();
        // In order: the stream left goes on until the caller cancels it.
        assertThat(((FakeChannel) foreign).shutdown).isTrue();
        assertThat(((FakeChannel) foreign).shutdownNow).isFalse();
    }

    @Test
    void anAbandonedMoveStaysOnTheOpenChannelAndTriesTheHomeAgainAfterALongerWait() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ManagedChannel foreign = ch.next(1);
        ch.probeHome(0);
        ch.probeHome(100 * MS);
        FakeChannel probe = opened.get(opened.size() - 1);
        probe.state = ConnectivityState.READY;
        assertThat(ch.probeHome(110 * MS)).isEqualTo(GatewayChannels.HomeProbe.REACHABLE);
        ch.homeChannel();

        ch.abandonHome(150 * MS); // the stream on it failed
        assertThat(probe.shutdownNow).isTrue();
        assertThat(ch.moving()).isFalse();
        assertThat(ch.channel()).isSameAs(foreign);
        assertThat(((FakeChannel) foreign).isShutdown()).isFalse();
        assertThatThrownBy(ch::adoptHome).isInstanceOf(IllegalStateException.class);
        // One failed try: the next after delay(2) = 200 ms.
        assertThat(ch.nanosUntilProbe(150 * MS)).isEqualTo(200 * MS);
        assertThat(ch.probeHome(349 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(opened).hasSize(3);
        ch.probeHome(350 * MS);
        assertThat(opened).hasSize(4);
        assertThat(opened.get(3).address).isEqualTo(A);
    }

    @Test
    void aHomeChannelIsGivenOnlyOnceTheTryConnected() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ch.next(1);
        ch.probeHome(0);
        ch.probeHome(100 * MS);
        assertThatThrownBy(ch::homeChannel).isInstanceOf(IllegalStateException.class);
        assertThat(ch.moving()).isFalse();
    }

    @Test
    void aHomeThatStaysUnreachableIsTriedAfterGrowingWaitsOneChannelAtATime() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ch.next(1);
        int before = opened.size();
        long t = 0;
        ch.probeHome(t); // schedules the first try at +100 ms
        List<Long> triedAt = new ArrayList<>();
        // Call it every 10 ms for 10 s, as a busy learner's task boundaries would.
        for (t = 0; t <= 10_000 * MS; t += 10 * MS) {
            int n = opened.size();
            assertThat(ch.probeHome(t)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
            if (opened.size() > n) {
                triedAt.add(t / MS);
                FakeChannel probe = opened.get(opened.size() - 1);
                assertThat(opened.subList(before, opened.size() - 1)).allMatch(c -> c.shutdownNow);
                probe.state = ConnectivityState.TRANSIENT_FAILURE; // refused
            }
        }
        // Tries at 100 ms, then each failure (seen 10 ms later) waits delay(n + 1): 200, 400, 800,
        // 1600 ms, then 2 s (the most).
        assertThat(triedAt).containsExactly(100L, 310L, 720L, 1530L, 3140L, 5150L, 7160L, 9170L);
    }

    @Test
    void aTryThatDoesNotConnectWithinTheProbeTimeoutCountsAsFailed() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ch.next(1);
        ch.probeHome(0);
        ch.probeHome(100 * MS); // starts the try; it stays CONNECTING (a host that never answers)
        FakeChannel probe = opened.get(opened.size() - 1);
        probe.state = ConnectivityState.CONNECTING;
        assertThat(ch.probeHome(1_099 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(probe.shutdownNow).isFalse();
        assertThat(ch.probeHome(1_100 * MS)).isEqualTo(GatewayChannels.HomeProbe.AWAY);
        assertThat(probe.shutdownNow).isTrue();
        assertThatThrownBy(ch::adoptHome).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aReconnectThatReachesHomeEndsTheTriesAndAJoinElsewhereMovesTheHome() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ch.next(1); // to B
        ch.probeHome(0);
        ch.probeHome(100 * MS);
        FakeChannel probe = opened.get(opened.size() - 1);
        assertThat(target(ch.next(1))).isEqualTo(A); // B failed: home first
        assertThat(probe.shutdownNow).isTrue();
        assertThat(ch.probeHome(200 * MS)).isEqualTo(GatewayChannels.HomeProbe.AT_HOME);

        // A re-join (new credentials) through B: the new id is homed at B.
        ch.next(1);
        ch.joined();
        assertThat(ch.home()).isEqualTo(B);
        assertThat(ch.atHome()).isTrue();
        assertThat(ch.nextAddress(1)).isEqualTo(A);
    }

    @Test
    void theCallerIsToldWhenToLookAgainAndWokenWhenATryConnects() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        assertThat(ch.nanosUntilProbe(0)).isEqualTo(-1); // at home
        ch.next(1);
        assertThat(ch.nanosUntilProbe(0)).isEqualTo(-1); // not scheduled until probeHome runs
        ch.probeHome(0);
        assertThat(ch.nanosUntilProbe(40 * MS)).isEqualTo(60 * MS); // the first try is due
        ch.probeHome(100 * MS);
        FakeChannel probe = opened.get(opened.size() - 1);
        // Trying: look again at the latest when the try times out, or when it changes state.
        assertThat(ch.nanosUntilProbe(300 * MS)).isEqualTo(800 * MS);
        assertThat(probe.onChange).isNotNull();
        probe.become(ConnectivityState.READY);
        assertThat(wakes).isEqualTo(1);
        assertThat(ch.nanosUntilProbe(310 * MS)).isEqualTo(-1); // reachable: nothing to wait for
        assertThat(ch.probeHome(310 * MS)).isEqualTo(GatewayChannels.HomeProbe.REACHABLE);
    }

    @Test
    void closeEndsATryInProgress() {
        GatewayChannels ch = channels(A, B);
        ch.channel();
        ch.joined();
        ch.next(1);
        ch.probeHome(0);
        ch.probeHome(100 * MS);
        FakeChannel probe = opened.get(opened.size() - 1);
        ch.close();
        assertThat(probe.shutdownNow).isTrue();
    }

    /** A channel that makes no calls; its connectivity is what the test sets. */
    private static final class FakeChannel extends ManagedChannel {
        final GatewayAddress address;
        volatile ConnectivityState state = ConnectivityState.IDLE;
        volatile boolean connectRequested;
        volatile boolean shutdown;
        volatile boolean shutdownNow;
        volatile Runnable onChange;

        FakeChannel(GatewayAddress address) {
            this.address = address;
        }

        @Override
        public ConnectivityState getState(boolean requestConnection) {
            if (requestConnection && state == ConnectivityState.IDLE) {
                connectRequested = true;
                state = ConnectivityState.CONNECTING;
            }
            return state;
        }

        @Override
        public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
            onChange = callback;
        }

        /** A new state, told to whoever waits for a change (as gRPC does, once). */
        void become(ConnectivityState next) {
            state = next;
            Runnable r = onChange;
            onChange = null;
            if (r != null) {
                r.run();
            }
        }

        @Override
        public ManagedChannel shutdown() {
            shutdown = true;
            state = ConnectivityState.SHUTDOWN;
            return this;
        }

        @Override
        public ManagedChannel shutdownNow() {
            shutdownNow = true;
            state = ConnectivityState.SHUTDOWN;
            return this;
        }

        @Override
        public boolean isShutdown() {
            return shutdown || shutdownNow;
        }

        @Override
        public boolean isTerminated() {
            return isShutdown();
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return true;
        }

        @Override
        public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
            throw new UnsupportedOperationException("a fake channel makes no calls");
        }

        @Override
        public String authority() {
            return address.toString();
        }
    }
}
