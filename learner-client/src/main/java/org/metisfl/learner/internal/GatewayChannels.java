package org.metisfl.learner.internal;

import io.grpc.ChannelCredentials;
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
 * The learner's one open channel, to one gateway of the list at a time; each reconnect moves to the
 * next gateway, round-robin. It closes only channels it created.
 */
public final class GatewayChannels implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayChannels.class);

    /** Model headers and chunks from the gateway may exceed gRPC's 4 MiB default. */
    static final int MAX_INBOUND_MESSAGE_BYTES = 64 << 20;

    private final List<GatewayAddress> addresses;
    private final Function<GatewayAddress, ManagedChannel> factory;
    private int index = -1;
    private ManagedChannel current;

    public GatewayChannels(
            List<GatewayAddress> addresses, Function<GatewayAddress, ManagedChannel> factory) {
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("at least one gateway address is required");
        }
        this.addresses = List.copyOf(addresses);
        this.factory = factory;
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
            next();
        }
        return current;
    }

    /** The gateway the open channel goes to. */
    public synchronized GatewayAddress address() {
        return addresses.get(Math.max(index, 0));
    }

    /** The gateway a call to {@link #next()} will connect to. */
    public synchronized GatewayAddress nextAddress() {
        return addresses.get((index + 1) % addresses.size());
    }

    /** Drops the open channel (its calls fail) and opens one to the next gateway. */
    public synchronized ManagedChannel next() {
        if (current != null) {
            current.shutdownNow();
        }
        index = (index + 1) % addresses.size();
        current = factory.apply(addresses.get(index));
        LOG.debug("opened a channel to gateway {}", addresses.get(index));
        return current;
    }

    public List<GatewayAddress> addresses() {
        return addresses;
    }

    /** Shuts the open channel down, giving in-flight calls a moment to end. */
    @Override
    public synchronized void close() {
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
