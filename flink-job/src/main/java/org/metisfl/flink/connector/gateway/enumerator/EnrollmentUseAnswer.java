package org.metisfl.flink.connector.gateway.enumerator;

import org.apache.flink.api.connector.source.SourceEvent;

/**
 * The enumerator's answer to an {@link EnrollmentUseRequest}: the use is the gateway's (it counts
 * it in its own checkpointed state from now on), or the token is used up.
 */
public record EnrollmentUseAnswer(long request, boolean granted) implements SourceEvent {
    private static final long serialVersionUID = 1L;
}
