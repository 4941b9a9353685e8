package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.metisfl.proto.v1.Credentials;
import org.metisfl.transport.BearerToken;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks the credentials every learner call carries: the learner id, and its session token as call
 * credentials ({@code authorization: Bearer}); the token field of the request is read only when the
 * metadata is absent (older learners; deprecated).
 */
public final class LearnerAuthentication {
    private static final Logger LOG = LoggerFactory.getLogger(LearnerAuthentication.class);

    private final TokenAuthority tokens;

    public LearnerAuthentication(TokenAuthority tokens) {
        this.tokens = tokens;
    }

    /** Null if the credentials are valid, else the UNAUTHENTICATED error to return. */
    public StatusRuntimeException check(Credentials c) {
        String token = BearerToken.current();
        String problem = tokens.check(c.getLearnerId(), token != null ? token : c.getToken());
        if (problem == null) {
            return null;
        }
        LOG.debug("Refused credentials: {}", problem);
        return Status.UNAUTHENTICATED.withDescription(problem).asRuntimeException();
    }
}
