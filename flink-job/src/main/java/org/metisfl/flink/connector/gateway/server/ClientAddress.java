package org.metisfl.flink.connector.gateway.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HexFormat;

/**
 * The client address of a learner call, as the key of the per-address join limit: an IPv4 address,
 * or the /64 prefix of an IPv6 address (one host usually holds a whole /64, so counting its
 * addresses apart would let it multiply its rate). The interceptor puts it in the call's {@link
 * Context}; {@link #current()} reads it (null for a transport without IP addresses).
 */
final class ClientAddress implements ServerInterceptor {
    private static final Context.Key<String> KEY = Context.key("metisfl-client-address");

    /** The calling client's address key, or null. */
    static String current() {
        return KEY.get();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String address = keyOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        if (address == null) {
            return next.startCall(call, headers);
        }
        return Contexts.interceptCall(
                Context.current().withValue(KEY, address), call, headers, next);
    }

    /** The key of a remote address: the IPv4 address, the IPv6 /64 prefix; null for others. */
    static String keyOf(SocketAddress remote) {
        if (!(remote instanceof InetSocketAddress inet) || inet.getAddress() == null) {
            return null;
        }
        InetAddress address = inet.getAddress();
        if (address instanceof Inet6Address) {
            byte[] prefix = new byte[8];
            System.arraycopy(address.getAddress(), 0, prefix, 0, 8);
            return HexFormat.of().formatHex(prefix) + "::/64";
        }
        return address.getHostAddress();
    }
}
