package org.metisfl.flink.connector.gateway.security;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.SignedToken;

/**
 * Decides whether a Join is admitted: with an operator-issued enrollment token that is valid, not
 * expired and not used up, or with a client certificate whose name is on the allow-list, or
 * (development) anyone.
 *
 * <p>A token's uses are counted federation-wide: each use of a token with a limit is asked of the
 * federation ({@link UseRequests}: in the job, the gateway source's enumerator, which sums what
 * every gateway holds). A granted use becomes this gateway's checkpointed state, taken together
 * with its join (both on the reader's thread, before the join is queued): a Join is answered only
 * once the checkpoint holding it completes, so a restore never re-arms a use a learner got
 * credentials for, and gives back one whose join was lost with the failure.
 */
public final class Admission {
    /** Asks the federation for one use of an enrollment token that admits {@code maxUses}. */
    @FunctionalInterface
    public interface UseRequests {
        /**
         * Completes with true if the use is granted, false if the token is used up, or
         * exceptionally if it cannot be decided now (the gateway is stopping).
         */
        CompletableFuture<Boolean> request(String tokenId, int maxUses);
    }

    private final GatewaySecurity security;
    private final EnrollmentTokens enrollment;
    private final Set<String> allowed;
    private final Map<String, Integer> uses;
    private final UseRequests requests;

    /** A gateway on its own (tests, tools): it counts each token's uses by itself. */
    public Admission(GatewaySecurity security, Map<String, Integer> uses) {
        this(security, uses, null);
    }

    /**
     * @param uses the uses this gateway holds (its restored checkpoint's)
     * @param requests where a use of a limited token is asked for; null: this gateway decides
     */
    public Admission(GatewaySecurity security, Map<String, Integer> uses, UseRequests requests) {
        this.security = security;
        this.enrollment =
                security.enrollmentKey() == null
                        ? null
                        : EnrollmentTokens.fromKeyFile(
                                java.nio.file.Path.of(security.enrollmentKey()));
        this.allowed = Set.copyOf(security.allowedIdentities());
        this.uses = new HashMap<>(uses);
        this.requests = requests;
    }

    /**
     * Completes with null if a learner presenting {@code credential} (the call's bearer token, may
     * be null) and {@code peerIdentity} (its certificate's name under mutual TLS, else null) may
     * join now; else with why not, in words the learner's operator can act on. Completes at once
     * unless a limited enrollment token's use must be asked for; then on the thread that answers.
     */
    public CompletableFuture<String> admit(String credential, String peerIdentity, Instant now) {
        switch (security.admission()) {
            case OPEN:
                return CompletableFuture.completedFuture(null);
            case CERTIFICATE:
                if (peerIdentity == null) {
                    return CompletableFuture.completedFuture(
                            "this federation admits learners by client certificate: connect with"
                                    + " the certificate the operator issued you (mutual TLS)");
                }
                return CompletableFuture.completedFuture(
                        allowed.contains(peerIdentity)
                                ? null
                                : "certificate '"
                                        + peerIdentity
                                        + "' is not on this federation's allow-list: ask the"
                                        + " operator to add it to security.allowed-identities");
            case ENROLLMENT:
            default:
                if (credential == null) {
                    return CompletableFuture.completedFuture(
                            "this federation admits learners by enrollment token: ask the operator"
                                    + " for one (`metisfl enroll create`) and pass it to the"
                                    + " learner (--enrollment-token)");
                }
                EnrollmentTokens.Enrollment e;
                try {
                    e = enrollment.verify(credential, now);
                } catch (SignedToken.InvalidTokenException bad) {
                    return CompletableFuture.completedFuture(
                            "enrollment token refused: "
                                    + bad.getMessage()
                                    + "; ask the operator for a new one");
                }
                if (e.maxUses() <= 0) {
                    taken(e.id());
                    return CompletableFuture.completedFuture(null);
                }
                if (requests == null) {
                    return CompletableFuture.completedFuture(
                            takeHere(e.id(), e.maxUses()) ? null : usedUp(e));
                }
                return requests.request(e.id(), e.maxUses())
                        .thenApply(
                                granted -> {
                                    if (!granted) {
                                        return usedUp(e);
                                    }
                                    taken(e.id());
                                    return null;
                                });
        }
    }

    private static String usedUp(EnrollmentTokens.Enrollment e) {
        return "enrollment token "
                + e.id()
                + " is used up ("
                + e.maxUses()
                + " join(s) in this federation); ask the operator for a new one";
    }

    /** A gateway on its own: takes a use while its own count is below the limit. */
    private synchronized boolean takeHere(String tokenId, int maxUses) {
        int used = uses.getOrDefault(tokenId, 0);
        if (used >= maxUses) {
            return false;
        }
        uses.put(tokenId, used + 1);
        return true;
    }

    private synchronized void taken(String tokenId) {
        uses.merge(tokenId, 1, Integer::sum);
    }

    /** Joins admitted here per enrollment token id, for the gateway's checkpoint. */
    public synchronized Map<String, Integer> uses() {
        return Map.copyOf(uses);
    }
}
