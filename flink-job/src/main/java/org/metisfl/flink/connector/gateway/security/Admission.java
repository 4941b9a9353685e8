package org.metisfl.flink.connector.gateway.security;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.SignedToken;

/**
 * Decides whether a Join is admitted: with an operator-issued enrollment token that is valid, not
 * expired and not used up, or with a client certificate whose name is on the allow-list, or
 * (development) anyone. The use counts are the gateway's checkpointed state: a Join is answered
 * only once the checkpoint holding it completes, so a restore never re-arms a use a learner got
 * credentials for.
 */
public final class Admission {
    private final GatewaySecurity security;
    private final EnrollmentTokens enrollment;
    private final Set<String> allowed;
    private final Map<String, Integer> uses;

    public Admission(GatewaySecurity security, Map<String, Integer> uses) {
        this.security = security;
        this.enrollment =
                security.enrollmentKey() == null
                        ? null
                        : EnrollmentTokens.fromKeyFile(
                                java.nio.file.Path.of(security.enrollmentKey()));
        this.allowed = Set.copyOf(security.allowedIdentities());
        this.uses = new HashMap<>(uses);
    }

    /**
     * Null if a learner presenting {@code credential} (the call's bearer token, may be null) and
     * {@code peerIdentity} (its certificate's name under mutual TLS, else null) may join now; else
     * why not, in words the learner's operator can act on.
     */
    public synchronized String admit(String credential, String peerIdentity, Instant now) {
        switch (security.admission()) {
            case OPEN:
                return null;
            case CERTIFICATE:
                if (peerIdentity == null) {
                    return "this federation admits learners by client certificate: connect with"
                            + " the certificate the operator issued you (mutual TLS)";
                }
                return allowed.contains(peerIdentity)
                        ? null
                        : "certificate '"
                                + peerIdentity
                                + "' is not on this federation's allow-list: ask the operator to"
                                + " add it to security.allowed-identities";
            case ENROLLMENT:
            default:
                if (credential == null) {
                    return "this federation admits learners by enrollment token: ask the operator"
                            + " for one (`metisfl enroll create`) and pass it to the learner"
                            + " (--enrollment-token)";
                }
                EnrollmentTokens.Enrollment e;
                try {
                    e = enrollment.verify(credential, now);
                } catch (SignedToken.InvalidTokenException bad) {
                    return "enrollment token refused: "
                            + bad.getMessage()
                            + "; ask the operator for a new one";
                }
                int used = uses.getOrDefault(e.id(), 0);
                if (e.maxUses() > 0 && used >= e.maxUses()) {
                    return "enrollment token "
                            + e.id()
                            + " is used up ("
                            + e.maxUses()
                            + " join(s)); ask the operator for a new one";
                }
                uses.put(e.id(), used + 1);
                return null;
        }
    }

    /** Joins admitted per enrollment token id, for the gateway's checkpoint. */
    public synchronized Map<String, Integer> uses() {
        return Map.copyOf(uses);
    }
}
