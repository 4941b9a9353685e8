package org.metisfl.flink.connector.gateway.enumerator;

import java.util.List;
import java.util.TreeSet;

/**
 * The enumerator's checkpoint: the federation secret, the gateways not yet handed out and the
 * learners revoked federation-wide (in the order they were revoked).
 */
public record GatewayEnumeratorState(
        String secret, List<Integer> unassigned, List<String> revoked) {
    public GatewayEnumeratorState {
        unassigned = List.copyOf(new TreeSet<>(unassigned));
        revoked = List.copyOf(new java.util.LinkedHashSet<>(revoked));
    }

    /** A new federation's: nothing revoked yet. */
    public GatewayEnumeratorState(String secret, List<Integer> unassigned) {
        this(secret, unassigned, List.of());
    }
}
