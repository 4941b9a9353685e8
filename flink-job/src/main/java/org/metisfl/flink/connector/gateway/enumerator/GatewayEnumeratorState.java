package org.metisfl.flink.connector.gateway.enumerator;

import java.util.List;
import java.util.TreeSet;

/** The enumerator's checkpoint: the federation secret and the gateways not yet handed out. */
public record GatewayEnumeratorState(String secret, List<Integer> unassigned) {
    public GatewayEnumeratorState {
        unassigned = List.copyOf(new TreeSet<>(unassigned));
    }
}
