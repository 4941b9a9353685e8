package org.metisfl.flink.connector.gateway.server;

import com.google.protobuf.ByteString;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.metisfl.proto.v1.DirectiveHeader;

/**
 * The gateways running in this JVM (and class loader: one job's), so the model sink can hand a
 * directive to a gateway in its own TaskManager directly instead of streaming the model to it over
 * loopback gRPC: on the embedded MiniCluster and wherever Flink places the sink beside a gateway
 * reader, the new model reaches the learners one transfer sooner. Gateways elsewhere still get it
 * over gRPC; both paths check the job's secret and apply the directive the same way.
 */
public final class LocalGateways {
    private static final Map<String, GatewayControlServiceImpl> RUNNING = new ConcurrentHashMap<>();

    private LocalGateways() {}

    static void register(int port, String secret, GatewayControlServiceImpl gateway) {
        RUNNING.put(key(port, secret), gateway);
    }

    static void unregister(int port, String secret, GatewayControlServiceImpl gateway) {
        RUNNING.remove(key(port, secret), gateway);
    }

    /**
     * Applies a directive at the gateway listening on {@code port} in this JVM for the job with
     * {@code secret}.
     *
     * @return false if no such gateway runs here (send it over gRPC)
     * @throws IllegalArgumentException if the directive is malformed
     */
    public static boolean deliver(
            int port, String secret, DirectiveHeader header, List<ByteString> chunks) {
        GatewayControlServiceImpl gateway = RUNNING.get(key(port, secret));
        if (gateway == null) {
            return false;
        }
        String problem = gateway.apply(header, chunks);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return true;
    }

    /** The control ports of the gateways running in this JVM (diagnostics and tests). */
    public static java.util.Set<Integer> controlPorts() {
        java.util.Set<Integer> ports = new java.util.TreeSet<>();
        for (String k : RUNNING.keySet()) {
            ports.add(Integer.parseInt(k.substring(0, k.indexOf('/'))));
        }
        return ports;
    }

    /**
     * The state of each gateway running in this JVM (tests: the gateway's own accounting, e.g. its
     * ingest budget, observed while hostile clients call it).
     */
    public static List<GatewayState> states() {
        return RUNNING.values().stream().map(GatewayControlServiceImpl::state).toList();
    }

    private static String key(int port, String secret) {
        return port + "/" + secret;
    }
}
