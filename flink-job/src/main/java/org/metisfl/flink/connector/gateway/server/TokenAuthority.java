package org.metisfl.flink.connector.gateway.server;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.metisfl.transport.SignedToken;

/**
 * Issues learner ids and session tokens, and checks them. A token is signed (HMAC-SHA256) with a
 * key derived from the federation's secret for this purpose alone, names its learner and expires,
 * so every gateway (and a restored job) verifies tokens without a registry, and neither a token nor
 * the job's control credential (derived for another purpose) reveals the secret.
 */
public final class TokenAuthority {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String PREFIX = "learner-";
    static final String LEARNER_PURPOSE = "mfl-learner-v1";
    static final String CONTROL_PURPOSE = "mfl-control-v1";

    private final SignedToken tokens;
    private final String controlToken;
    private final Duration lifetime;
    private final LongSupplier clock;
    private final Set<String> revoked = ConcurrentHashMap.newKeySet();

    /** Tokens valid for an hour, on the system clock. */
    public TokenAuthority(String secret) {
        this(secret, Duration.ofHours(1), System::currentTimeMillis);
    }

    public TokenAuthority(String secret, Duration lifetime, LongSupplier clock) {
        byte[] key = secret.getBytes(StandardCharsets.UTF_8);
        this.tokens = SignedToken.forPurpose(LEARNER_PURPOSE, key);
        this.controlToken =
                Base64.getUrlEncoder()
                        .withoutPadding()
                        .encodeToString(SignedToken.derive(key, CONTROL_PURPOSE));
        this.lifetime = lifetime;
        this.clock = clock;
    }

    /** A fresh random secret for a new federation. */
    public static String newSecret() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public String newLearnerId() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return PREFIX + HexFormat.of().formatHex(b);
    }

    /** A session token for {@code learnerId}, valid from now for the configured lifetime. */
    public String tokenFor(String learnerId) {
        return tokens.sign(Map.of("sub", learnerId), expiryFromNow());
    }

    /** The gateway's clock. */
    public Instant now() {
        return Instant.ofEpochMilli(clock.getAsLong());
    }

    /** When a token issued now expires (ms since the epoch). */
    public long expiresAtMs() {
        return expiryFromNow().toEpochMilli();
    }

    private Instant expiryFromNow() {
        return Instant.ofEpochSecond(
                Instant.ofEpochMilli(clock.getAsLong()).plus(lifetime).getEpochSecond());
    }

    /**
     * The credential the job's model sink presents at a gateway's control endpoint: derived from
     * the secret, so a learner token can never pass for it (nor the other way round).
     */
    public String controlToken() {
        return controlToken;
    }

    /** The learner left: its tokens are refused from now on, at this gateway. */
    public void revoke(String learnerId) {
        revoked.add(learnerId);
    }

    /** True if the learner's tokens are refused (it left or was revoked). */
    public boolean isRevoked(String learnerId) {
        return revoked.contains(learnerId);
    }

    /** True if {@code learnerId} has the form of an id this authority issues. */
    public static boolean isLearnerId(String learnerId) {
        return learnerId.startsWith(PREFIX)
                && learnerId.length() == PREFIX.length() + 16
                && learnerId
                        .substring(PREFIX.length())
                        .chars()
                        .allMatch(c -> Character.digit(c, 16) >= 0);
    }

    /** The learners whose tokens were revoked, for the gateway's checkpoint. */
    public Set<String> revoked() {
        return Set.copyOf(revoked);
    }

    /** Null if the credentials are valid, else the reason they are not. */
    public String check(String learnerId, String token) {
        if (learnerId.isEmpty()) {
            return "missing learner id: call Join first and send its learner_id and token";
        }
        if (!learnerId.startsWith(PREFIX) || learnerId.length() != PREFIX.length() + 16) {
            return "unknown learner '" + learnerId + "': call Join to register";
        }
        Map<String, String> claims;
        try {
            claims = tokens.verify(token, Instant.ofEpochMilli(clock.getAsLong()));
        } catch (SignedToken.InvalidTokenException e) {
            return "invalid token for learner '"
                    + learnerId
                    + "' ("
                    + e.getMessage()
                    + "): use the token Join or RenewToken returned, or Join again";
        }
        if (!learnerId.equals(claims.get("sub"))) {
            return "the token was issued to another learner than '" + learnerId + "'";
        }
        if (revoked.contains(learnerId)) {
            return "learner '"
                    + learnerId
                    + "' left the federation or was revoked by the operator: Join again (with a"
                    + " new enrollment credential if it was revoked) to take part";
        }
        return null;
    }
}
