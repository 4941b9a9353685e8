package org.metisfl.transport;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A short credential signed with HMAC-SHA256: {@code PREFIX.CLAIMS.MAC}, where the claims are
 * {@code key=value} pairs (printable ASCII, no {@code ;} or {@code =}) including its expiry. The
 * key is derived per purpose from a master secret (NIST SP 800-108 counter-mode KDF with HMAC), so
 * a learner token can never pass as an enrollment token and neither reveals the master secret.
 * Verification recomputes the MAC and compares in constant time.
 */
public final class SignedToken {
    private static final Pattern VALUE = Pattern.compile("[\\x21-\\x3a\\x3c\\x3e-\\x7e]{1,256}");
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder D64 = Base64.getUrlDecoder();

    private final String prefix;
    private final byte[] key;
    private final ThreadLocal<Mac> mac;

    private SignedToken(String prefix, byte[] key) {
        this.prefix = prefix;
        this.key = key;
        this.mac = ThreadLocal.withInitial(() -> newMac(this.key));
    }

    /**
     * Tokens with prefix {@code purpose} under a key derived from {@code masterSecret} for that
     * purpose.
     */
    public static SignedToken forPurpose(String purpose, byte[] masterSecret) {
        if (masterSecret.length < 16) {
            throw new IllegalArgumentException("a token secret needs at least 128 bits");
        }
        return new SignedToken(purpose, derive(masterSecret, purpose));
    }

    /** Signs {@code claims} (in order) with an expiry; {@code exp} is reserved for it. */
    public String sign(Map<String, String> claims, Instant expiry) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String> c : claims.entrySet()) {
            if (c.getKey().equals("exp")) {
                throw new IllegalArgumentException("'exp' is the token's own claim");
            }
            checkPart(c.getKey());
            checkPart(c.getValue());
            b.append(c.getKey()).append('=').append(c.getValue()).append(';');
        }
        b.append("exp=").append(expiry.getEpochSecond());
        String body = B64.encodeToString(b.toString().getBytes(StandardCharsets.US_ASCII));
        return prefix + "." + body + "." + B64.encodeToString(macOf(prefix + "." + body));
    }

    /**
     * The claims of a valid token (with {@code exp}), or throws {@link InvalidTokenException}
     * saying why it is not valid at {@code now}.
     */
    public Map<String, String> verify(String token, Instant now) {
        if (token == null || token.isEmpty()) {
            throw new InvalidTokenException("no credential was sent");
        }
        if (token.length() > BearerToken.MAX_TOKEN_LENGTH) {
            throw new InvalidTokenException("the credential is too long to be one of ours");
        }
        int first = token.indexOf('.');
        int last = token.lastIndexOf('.');
        if (first < 0 || first == last || !token.substring(0, first).equals(prefix)) {
            throw new InvalidTokenException("not a '" + prefix + "' credential");
        }
        byte[] given;
        byte[] claimBytes;
        try {
            given = D64.decode(token.substring(last + 1));
            claimBytes = D64.decode(token.substring(first + 1, last));
        } catch (IllegalArgumentException e) {
            throw new InvalidTokenException("the credential is not well formed");
        }
        if (!MessageDigest.isEqual(macOf(token.substring(0, last)), given)) {
            throw new InvalidTokenException("the credential's signature is not valid");
        }
        Map<String, String> claims = new LinkedHashMap<>();
        for (String pair : new String(claimBytes, StandardCharsets.US_ASCII).split(";")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new InvalidTokenException("the credential is not well formed");
            }
            claims.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        long exp;
        try {
            exp = Long.parseLong(claims.getOrDefault("exp", ""));
        } catch (NumberFormatException e) {
            throw new InvalidTokenException("the credential has no expiry");
        }
        if (now.getEpochSecond() >= exp) {
            throw new InvalidTokenException(
                    "the credential expired at " + Instant.ofEpochSecond(exp));
        }
        return claims;
    }

    private byte[] macOf(String text) {
        return mac.get().doFinal(text.getBytes(StandardCharsets.US_ASCII));
    }

    private static void checkPart(String s) {
        if (s == null || !VALUE.matcher(s).matches()) {
            throw new IllegalArgumentException(
                    "token claims are 1-256 printable ASCII characters without ';' or '=': " + s);
        }
    }

    /**
     * A 256-bit key for {@code purpose} derived from {@code master}: SP 800-108 KDF in counter
     * mode, one block: HMAC(K, 1 || label || 0x00 || 256).
     */
    public static byte[] derive(byte[] master, String label) {
        Mac m = newMac(master);
        byte[] l = label.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer in = ByteBuffer.allocate(4 + l.length + 1 + 4);
        in.putInt(1).put(l).put((byte) 0).putInt(256);
        return m.doFinal(in.array());
    }

    private static Mac newMac(byte[] key) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            return m;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** A token that is not valid; the message says why, never the token itself. */
    public static final class InvalidTokenException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public InvalidTokenException(String reason) {
            super(reason);
        }
    }
}
