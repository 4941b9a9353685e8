package org.metisfl.flink.connector.gateway.enumerator;

import org.apache.flink.api.connector.source.SourceEvent;

/**
 * A gateway asks the enumerator for one join of the enrollment token {@code tokenId}, which admits
 * at most {@code maxUses} joins federation-wide; answered by an {@link EnrollmentUseAnswer} with
 * the same {@code request}.
 */
public record EnrollmentUseRequest(long request, String tokenId, int maxUses)
        implements SourceEvent {
    private static final long serialVersionUID = 1L;
}
