package org.metisfl.flink.connector.gateway.enumerator;

import java.util.List;
import org.apache.flink.api.connector.source.SourceEvent;

/**
 * Learners whose tokens are revoked federation-wide (they left, or the operator revoked them): a
 * gateway reader sends the ones it revoked to the enumerator, which keeps them in its checkpointed
 * state and sends them on to every reader (all of them to a reader that (re)starts).
 */
public record RevocationEvent(List<String> learners) implements SourceEvent {
    private static final long serialVersionUID = 1L;

    public RevocationEvent {
        learners = List.copyOf(learners);
    }
}
