package org.metisfl.learner.internal;

import io.grpc.ChannelCredentials;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.metisfl.transport.TransportSecurity;
import org.metisfl.transport.WireTuning;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learner's one open channel, to one gateway of the list at a time, and the choice of that
 * gateway. The learner's <b>home</b> is the gateway it joined through: gateways issue learner ids
 * homed at themselves, and only the home folds the learner's updates into partial sums (anywhere
 * else an update is "foreign", held unfolded until its round closes). So:
 *
 * <ul>
 *   <li>a reconnect goes home first when the learner is elsewhere (the first attempt after a
 *       working call), and otherwise on round-robin through the list, so every gateway is tried;
 *   <li>away from home, {@link #probeHome} tries the home's connection now and then (a channel of
 *       its own, never a call; the waits between failed tries grow as {@link Backoff} says); once
 *       it connects, the caller opens its task stream there ({@link #homeChannel}) while still on
 *       the open channel, and {@link #adoptHome} moves the learner there once that stream is
 *       established, or {@link #abandonHome} stays where it is (make before break).
 * </ul>
 *
 * It closes only channels it created. Time comes from the caller (the session's clock).
 */
public final class GatewayChannels implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayChannels.class);

    /** Model headers and chunks from the gateway may exceed gRPC's 4 MiB default. */
    static final int MAX_INBOUND_MESSAGE_BYTES = 64 << 20;

    /** What {@link #probeHome} found. */
    public enum HomeProbe {
        /** At home (or no home yet): nothing to do. */
        AT_HOME,
        /** Away, and the home is not known to be reachable (not tried yet, trying, or failed). */
        AWAY,
        /** Away, and the home's connection is up: {@link #adoptHome} moves there. */
        REACHABLE
    }

    private static final long NOT_SCHEDULED = Long.MIN_VALUE;

    private final List<GatewayAddress> addresses;
    private final Function<GatewayAddress, ManagedChannel> factory;
    private final Backoff homeBackoff;
    private final long probeTimeoutNanos;
    private final Runnable onProbeChange;
    private int index = -1;
    private ManagedChannel current;

    /** Index of the gateway of the last successful join; -1 before it. */
    private int home = -1;

    private ManagedChannel probe;
    private long probeStartedAt;
    private long nextProbeAt = NOT_SCHEDULED;
    private int failedProbes;

    /** The caller opened its task stream on the try's channel and awaits its outcome. */
    private boolean moving;

    /**
     * @param homeBackoff the waits before trying the home again while away (the first try after
     *     {@code homeBackoff.delay(1)}, the n-th after a failed one after {@code delay(n+1)})
     * @param probeTimeout how long a try of the home may take to connect before it counts as failed
     * @param onProbeChange run (on a gRPC thread) when a try's connection changes state, so that
     *     the caller looks at it again without waiting for other work
     */
    public GatewayChannels(
            List<GatewayAddress> addresses,
            Function<GatewayAddress, ManagedChannel> factory,
            Backoff homeBackoff,
            Duration probeTimeout,
            Runnable onProbeChange) {
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("at least one gateway address is required");
        }
        this.addresses = List.copyOf(addresses);
        this.factory = factory;
        this.homeBackoff = homeBackoff;
        this.probeTimeoutNanos = probeTimeout.toNanos();
        this.onProbeChange = onProbeChange;
    }

    /**
     * Netty channels protected as {@code security} says, with keepalive on idle connections and no
     * built-in retries. Reads and checks the certificate files once, now.
     */
    public static Function<GatewayAddress, ManagedChannel> nettyFactory(
            Duration keepAliveTime, TransportSecurity security) {
        ChannelCredentials credentials = security.channelCredentials();
        if (security.isInsecure()) {
            LOG.warn(
                    "connecting to the gateways in plaintext: the model and the credentials can be"
                            + " read and forged on the network (local development only)");
        }
        // The transport settings of the gateway's learner port (HTTP/2 windows, socket reads);
        // gRPC's shared event loops pick the native epoll transport themselves where it loads.
        WireTuning wire = WireTuning.defaults();
        return address ->
                wire.applyTo(
                                NettyChannelBuilder.forAddress(
                                        address.host(), address.port(), credentials),
                                false)
                        .keepAliveTime(keepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
                        .keepAliveWithoutCalls(true)
                        .maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)
                        // Retries are the learner's job: it knows which calls are idempotent.
                        .disableRetry()
                        .build();
    }

    /** The open channel, opening one to the first gateway on first use. */
    public synchronized ManagedChannel channel() {
        if (current == null) {
            moveTo(Math.max(index, 0));
        }
        return current;
    }

    /** The gateway the open channel goes to. */
    public synchronized GatewayAddress address() {
        return addresses.get(Math.max(index, 0));
    }

    /** Records that the learner joined through the open channel's gateway: its home from now. */
    public synchronized void joined() {
        home = Math.max(index, 0);
        forgetProbe();
    }

    /** The gateway the learner joined through, or null before it joined. */
    public synchronized GatewayAddress home() {
        return home < 0 ? null : addresses.get(home);
    }

    /** Whether the open channel goes to the learner's home (true before it joined). */
    public synchronized boolean atHome() {
        return home < 0 || Math.max(index, 0) == home;
    }

    /**
     * The gateway reconnect attempt {@code attempt} (1 for the first after a working call) goes to:
     * the home on a first attempt away from it, else the next of the list after the open one.
     */
    public synchronized GatewayAddress nextAddress(int attempt) {
        return addresses.get(nextIndex(attempt));
    }

    private int nextIndex(int attempt) {
        if (attempt <= 1 && home >= 0 && index != home) {
            return home;
        }
        return (index + 1) % addresses.size();
    }

    /**
     * Drops the open channel (its calls fail) and opens one to the gateway of {@link
     * #nextAddress(int)}.
     */
    public synchronized ManagedChannel next(int attempt) {
        if (moving) {
            forgetProbe();
        }
        if (current != null) {
            current.shutdownNow();
            current = null;
        }
        moveTo(nextIndex(attempt));
        return current;
    }

    private void moveTo(int target) {
        index = target;
        current = factory.apply(addresses.get(index));
        LOG.debug("opened a channel to gateway {}", addresses.get(index));
        if (index == home) {
            forgetProbe();
        }
    }

    /**
     * Away from home, tries the home's connection without making a call: starts a try once the wait
     * since the last one is over, and reports {@link HomeProbe#REACHABLE} once it is up. A try that
     * fails to connect, or takes longer than the probe timeout, is closed and the next one waits
     * longer. Cheap: call it at every task boundary.
     */
    public synchronized HomeProbe probeHome(long nowNanos) {
        if (atHome()) {
            forgetProbe();
            return HomeProbe.AT_HOME;
        }
        if (moving) {
            // The caller's stream on it decides: adoptHome or abandonHome.
            return HomeProbe.AWAY;
        }
        if (probe == null) {
            if (nextProbeAt == NOT_SCHEDULED) {
                // Just left home (it failed): give it a moment before the first try.
                nextProbeAt = nowNanos + homeBackoff.delay(failedProbes + 1).toNanos();
            }
            if (nowNanos - nextProbeAt < 0) {
                return HomeProbe.AWAY;
            }
            probe = factory.apply(addresses.get(home));
            probeStartedAt = nowNanos;
            probe.getState(true);
            LOG.debug("trying home gateway {} again", addresses.get(home));
        }
        ConnectivityState state = probe.getState(false);
        if (state == ConnectivityState.READY) {
            return HomeProbe.REACHABLE;
        }
        boolean failed =
                state == ConnectivityState.TRANSIENT_FAILURE
                        || state == ConnectivityState.SHUTDOWN
                        || nowNanos - probeStartedAt >= probeTimeoutNanos;
        if (failed) {
            probe.shutdownNow();
            probe = null;
            failedProbes++;
            nextProbeAt = nowNanos + homeBackoff.delay(failedProbes + 1).toNanos();
            LOG.debug(
                    "home gateway {} still unreachable ({}); next try in {} ms",
                    addresses.get(home),
                    state,
                    (nextProbeAt - nowNanos) / 1_000_000);
        } else {
            if (state == ConnectivityState.IDLE) {
                probe.getState(true);
            }
            probe.notifyWhenStateChanged(state, onProbeChange);
        }
        return HomeProbe.AWAY;
    }

    /**
     * How long the caller may wait before {@link #probeHome} has something new to do (start a try,
     * or time one out); -1 when there is nothing to wait for (at home, or the home reachable).
     */
    public synchronized long nanosUntilProbe(long nowNanos) {
        if (atHome() || moving) {
            return -1;
        }
        if (probe == null) {
            // Not scheduled: the next probeHome schedules it.
            return nextProbeAt == NOT_SCHEDULED ? -1 : Math.max(0, nextProbeAt - nowNanos);
        }
        if (probe.getState(false) == ConnectivityState.READY) {
            return -1;
        }
        return Math.max(0, probeStartedAt + probeTimeoutNanos - nowNanos);
    }

    /**
     * The home's channel that {@link #probeHome} found up, for the caller to open its task stream
     * on before it leaves the open channel; the move is then under way until {@link #adoptHome} or
     * {@link #abandonHome} (the try is neither timed out nor retried meanwhile).
     *
     * @throws IllegalStateException unless {@link #probeHome} just reported {@link
     *     HomeProbe#REACHABLE}
     */
    public synchronized ManagedChannel homeChannel() {
        if (probe == null || probe.getState(false) != ConnectivityState.READY) {
            throw new IllegalStateException("the home gateway's connection is not up");
        }
        moving = true;
        return probe;
    }

    /** Whether a move home is under way ({@link #homeChannel} was called). */
    public synchronized boolean moving() {
        return moving;
    }

    /**
     * The move home failed (its task stream did not open): shuts the home's channel down and stays
     * on the open channel; the next try waits longer, as after a try that did not connect.
     */
    public synchronized void abandonHome(long nowNanos) {
        if (!moving) {
            return;
        }
        moving = false;
        if (probe != null) {
            probe.shutdownNow();
            probe = null;
        }
        failedProbes++;
        nextProbeAt = nowNanos + homeBackoff.delay(failedProbes + 1).toNanos();
        LOG.debug(
                "could not open the task stream at home gateway {}; next try in {} ms",
                addresses.get(home),
                (nextProbeAt - nowNanos) / 1_000_000);
    }

    /**
     * Moves to the home over the connection {@link #probeHome} found up, or the one a move under
     * way ({@link #homeChannel}) opened its stream on. The channel left is shut down in order
     * (calls still on it, such as the task stream left, go on until they end; the caller moves only
     * with no update outstanding) and returned; null if there was none.
     *
     * @throws IllegalStateException unless a move is under way or {@link #probeHome} just reported
     *     {@link HomeProbe#REACHABLE}
     */
    public synchronized ManagedChannel adoptHome() {
        if (probe == null || (!moving && probe.getState(false) != ConnectivityState.READY)) {
            throw new IllegalStateException("the home gateway's connection is not up");
        }
        ManagedChannel left = current;
        if (left != null) {
            left.shutdown();
        }
        current = probe;
        probe = null;
        index = home;
        forgetProbe();
        LOG.debug("moved back to home gateway {}", addresses.get(index));
        return left;
    }

    private void forgetProbe() {
        moving = false;
        if (probe != null) {
            probe.shutdownNow();
            probe = null;
        }
        failedProbes = 0;
        nextProbeAt = NOT_SCHEDULED;
    }

    public List<GatewayAddress> addresses() {
        return addresses;
    }

    /** Shuts the open channel down, giving in-flight calls a moment to end. */
    @Override
    public synchronized void close() {
        forgetProbe();
        if (current == null) {
            return;
        }
        ManagedChannel channel = current;
        current = null;
        channel.shutdown();
        try {
            if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
                channel.shutdownNow();
                channel.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
