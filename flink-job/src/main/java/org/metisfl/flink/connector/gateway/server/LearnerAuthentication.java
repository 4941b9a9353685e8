package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.metisfl.proto.v1.Credentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Checks the credentials every learner call carries (the learner id and its token). */
public final class LearnerAuthentication {
    private static final Logger LOG = LoggerFactory.getLogger(LearnerAuthentication.class);

    private final TokenAuthority tokens;

    public LearnerAuthentication(TokenAuthority tokens) {
        this.tokens = tokens;
    }

    /** Null if the credentials are valid, else the UNAUTHENTICATED error to return. */
    public StatusRuntimeException check(Credentials c) {
        String problem = tokens.check(c.getLearnerId(), c.getToken());
        if (problem == null) {
            return null;
        }
        LOG.debug("Refused credentials: {}", problem);
        return Status.UNAUTHENTICATED.withDescription(problem).asRuntimeException();
    }
}
