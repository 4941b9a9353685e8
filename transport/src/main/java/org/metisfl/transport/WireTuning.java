package org.metisfl.transport;

import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.ThreadFactory;

/**
 * The transport settings of the model-carrying gRPC connections, applied alike to the gateway's
 * learner port, the learners' channels (the learner library and the simulated learners) and the
 * discarding server of the benchmark's raw-gRPC bound, so the bound measures the path the data
 * takes. Which settings are on by default ({@link #defaults()}), and what each did, is measured in
 * {@code docs/benchmarks.md} ("gRPC at the speed of the wire").
 *
 * <ul>
 *   <li>{@code flowControlWindow}: the HTTP/2 stream and connection receive window in bytes, fixed
 *       (gRPC's automatic window tuning off); 0 leaves gRPC's default (1 MiB, tuned from the
 *       bandwidth-delay product up to 8 MiB). On a server whose calls read with manual flow control
 *       this is also the most a connection can make it buffer beyond what the calls asked for.
 *   <li>{@code receiveBufferBytes}: the largest buffer one socket read fills (Netty adapts between
 *       64 bytes and this); 0 leaves Netty's default (64 KiB).
 *   <li>{@code epoll}: Linux's native epoll transport bundled with gRPC instead of Java NIO, when
 *       it loads on this machine ({@link #epollAvailable()}); otherwise NIO.
 * </ul>
 *
 * @param flowControlWindow HTTP/2 receive window in bytes, or 0 for gRPC's default
 * @param receiveBufferBytes largest socket read in bytes, or 0 for Netty's default
 * @param epoll use the native epoll transport when it is available
 */
public record WireTuning(int flowControlWindow, int receiveBufferBytes, boolean epoll) {

    /** gRPC's and Netty's own defaults: nothing changed. */
    public static final WireTuning GRPC_DEFAULTS = new WireTuning(0, 0, false);

    public WireTuning {
        if (flowControlWindow < 0 || receiveBufferBytes < 0) {
            throw new IllegalArgumentException(
                    "flowControlWindow and receiveBufferBytes must be >= 0 (0: the default), got "
                            + flowControlWindow
                            + " and "
                            + receiveBufferBytes);
        }
        if (receiveBufferBytes > 0 && receiveBufferBytes < 64) {
            throw new IllegalArgumentException(
                    "receiveBufferBytes must be 0 or >= 64, got " + receiveBufferBytes);
        }
    }

    /**
     * The settings the project's model-carrying connections use: gRPC's own. Measured against them
     * side by side ({@code WireInterleaved} in the bench module; docs/benchmarks.md, "gRPC at the
     * speed of the wire"), a fixed 16 MiB window was slower (gRPC's automatic window already grows
     * to 8 MiB), 4 MiB chunks were slower, epoll made no consistent difference, and 1 MiB socket
     * reads lowered the server's CPU per GB in 6 of 8 repeats but would let a stalled upload pin a
     * whole 1 MiB read buffer per byte it leaves unread (gRPC keeps its DATA frames as slices of
     * the read buffer), 16 times what 64 KiB reads allow on the gateway's port.
     */
    public static WireTuning defaults() {
        return GRPC_DEFAULTS;
    }

    /** Whether gRPC's bundled native epoll transport loads here. */
    public static boolean epollAvailable() {
        try {
            return Epoll.isAvailable();
        } catch (Throwable e) { // a class or library that does not load: NIO
            return false;
        }
    }

    private boolean useEpoll() {
        return epoll && epollAvailable();
    }

    /** Which transport these settings give on this machine: "epoll" or "nio". */
    public String transportName() {
        return useEpoll() ? "epoll" : "nio";
    }

    /** An event loop group of the transport these settings use. */
    public EventLoopGroup newEventLoopGroup(int threads, ThreadFactory threadFactory) {
        return useEpoll()
                ? new EpollEventLoopGroup(threads, threadFactory)
                : new NioEventLoopGroup(threads, threadFactory);
    }

    /** The server channel type that goes with {@link #newEventLoopGroup}. */
    public Class<? extends ServerChannel> serverChannelType() {
        return useEpoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /**
     * Applies the settings to a server whose boss and worker groups come from {@link
     * #newEventLoopGroup} of these settings.
     */
    public NettyServerBuilder applyTo(NettyServerBuilder b) {
        b.channelType(serverChannelType());
        if (flowControlWindow > 0) {
            b.flowControlWindow(flowControlWindow);
        }
        if (receiveBufferBytes > 0) {
            b.withChildOption(ChannelOption.RCVBUF_ALLOCATOR, recvAllocator());
        }
        return b;
    }

    /**
     * Applies the settings to a channel whose event loop group comes from {@link
     * #newEventLoopGroup} of these settings (or, without a group of its own, gRPC's shared one:
     * then the channel type is left to gRPC).
     */
    public NettyChannelBuilder applyTo(NettyChannelBuilder b, boolean ownEventLoop) {
        if (ownEventLoop) {
            b.channelType(useEpoll() ? EpollSocketChannel.class : NioSocketChannel.class);
        }
        if (flowControlWindow > 0) {
            b.flowControlWindow(flowControlWindow);
        }
        if (receiveBufferBytes > 0) {
            b.withOption(ChannelOption.RCVBUF_ALLOCATOR, recvAllocator());
        }
        return b;
    }

    private AdaptiveRecvByteBufAllocator recvAllocator() {
        return new AdaptiveRecvByteBufAllocator(
                64, Math.min(64 * 1024, receiveBufferBytes), receiveBufferBytes);
    }

    /**
     * Settings from a compact text, for benchmarks: comma-separated {@code window=<bytes>}, {@code
     * recv=<bytes>}, {@code epoll}; empty or {@code default} for {@link #defaults()}, {@code grpc}
     * for {@link #GRPC_DEFAULTS}.
     */
    public static WireTuning parse(String text) {
        String t = text == null ? "" : text.trim();
        if (t.isEmpty() || t.equals("default")) {
            return defaults();
        }
        int window = 0;
        int recv = 0;
        boolean epoll = false;
        for (String part : t.split(",")) {
            String p = part.trim();
            if (p.equals("grpc") || p.isEmpty()) {
                continue;
            } else if (p.equals("epoll")) {
                epoll = true;
            } else if (p.startsWith("window=")) {
                window = Integer.parseInt(p.substring(7));
            } else if (p.startsWith("recv=")) {
                recv = Integer.parseInt(p.substring(5));
            } else {
                throw new IllegalArgumentException(
                        "unknown wire setting '"
                                + p
                                + "' (use window=<bytes>, recv=<bytes>, epoll)");
            }
        }
        return new WireTuning(window, recv, epoll);
    }

    /** The compact text {@link #parse} reads. */
    public String text() {
        StringBuilder s = new StringBuilder("grpc");
        if (flowControlWindow > 0) {
            s.append(",window=").append(flowControlWindow);
        }
        if (receiveBufferBytes > 0) {
            s.append(",recv=").append(receiveBufferBytes);
        }
        if (epoll) {
            s.append(",epoll");
        }
        return s.toString();
    }
}
