package org.metisfl.transport;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * The operator's credential at a gateway's control endpoint ({@code metisfl learners list|revoke}):
 * a short-lived token signed with a key derived from the operator key (by default the enrollment
 * key, a file only the operator and the TaskManagers hold) for this purpose alone. An enrollment
 * token, signed under the same file for another purpose, and a learner's session token, signed
 * under the federation secret, never pass for it.
 */
public final class OperatorTokens {
    static final String PURPOSE = "mfl-operator-v1";

    /** How long a token the CLI makes is valid: one command's worth. */
    public static final Duration LIFETIME = Duration.ofMinutes(5);

    private final SignedToken tokens;

    private OperatorTokens(byte[] key) {
        this.tokens = SignedToken.forPurpose(PURPOSE, key);
    }

    /** Tokens under the key in {@code file} (made by {@code metisfl enroll init}). */
    public static OperatorTokens fromKeyFile(Path file) {
        return new OperatorTokens(EnrollmentTokens.readKey(file));
    }

    /** A token valid for {@link #LIFETIME} from {@code now}. */
    public String issue(Instant now) {
        return tokens.sign(Map.of("sub", "operator"), now.plus(LIFETIME));
    }

    /** Null if {@code token} is a valid operator token at {@code now}, else why not. */
    public String check(String token, Instant now) {
        if (token == null || token.isEmpty()) {
            return "missing operator credentials: send an operator token as 'authorization:"
                    + " Bearer' (metisfl learners makes one from the operator key)";
        }
        try {
            Map<String, String> claims = tokens.verify(token, now);
            if (!"operator".equals(claims.get("sub"))) {
                return "not an operator token";
            }
            return null;
        } catch (SignedToken.InvalidTokenException e) {
            return "invalid operator token ("
                    + e.getMessage()
                    + "): make it with the operator key the job was given (security.operator-key,"
                    + " by default security.enrollment-key)";
        }
    }
}
