package org.metisfl.learner.internal;

/**
 * One learner-gateway endpoint, parsed from {@code host:port} (IPv6 as {@code [::1]:port}).
 *
 * @param host host name or IP literal, without brackets
 * @param port TCP port, 1-65535
 */
public record GatewayAddress(String host, int port) {

    /**
     * Parses {@code host:port}.
     *
     * @throws IllegalArgumentException naming the malformed value and the expected form
     */
    public static GatewayAddress parse(String hostPort) {
        if (hostPort == null || hostPort.isBlank()) {
            throw invalid(hostPort, "it is empty");
        }
        String s = hostPort.trim();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw invalid(hostPort, "it has no port");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw invalid(hostPort, "an IPv6 address must be in brackets, e.g. [::1]:50051");
        }
        if (host.isEmpty()) {
            throw invalid(hostPort, "it has no host");
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw invalid(hostPort, "the port is not a number");
        }
        if (port < 1 || port > 65535) {
            throw invalid(hostPort, "the port is outside 1-65535");
        }
        return new GatewayAddress(host, port);
    }

    private static IllegalArgumentException invalid(String value, String why) {
        return new IllegalArgumentException(
                "gateways: '"
                        + value
                        + "' is not a gateway address ("
                        + why
                        + "); pass each gateway as host:port, e.g. localhost:50051");
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
