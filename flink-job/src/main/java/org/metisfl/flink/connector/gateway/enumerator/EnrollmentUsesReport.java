package org.metisfl.flink.connector.gateway.enumerator;

import java.util.Map;
import org.apache.flink.api.connector.source.SourceEvent;

/**
 * What a gateway tells the enumerator each time it starts: the joins per enrollment token its
 * restored state holds (each use a join this gateway admitted, in the same checkpoint as that
 * join). The enumerator counts a token's uses federation-wide from these and the uses it granted
 * since, and grants none until every gateway has reported.
 */
public record EnrollmentUsesReport(Map<String, Integer> uses) implements SourceEvent {
    private static final long serialVersionUID = 1L;

    public EnrollmentUsesReport {
        uses = Map.copyOf(uses);
    }
}
