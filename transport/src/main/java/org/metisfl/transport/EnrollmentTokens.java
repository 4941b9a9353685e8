package org.metisfl.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Operator-issued admission credentials: a learner may join only with an enrollment token signed
 * with the federation's enrollment key (a file the operator keeps, created by {@code metisfl enroll
 * init}). A token names its own id, its expiry and how many learners may join with it (1 =
 * single-use; 0 = any number until it expires). The gateway checks the signature and the expiry;
 * the use count is enforced by the job against the ids it has seen.
 */
public final class EnrollmentTokens {
    static final String PURPOSE = "mfl-enroll-v1";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SignedToken tokens;

    private EnrollmentTokens(byte[] key) {
        this.tokens = SignedToken.forPurpose(PURPOSE, key);
    }

    /** What a valid enrollment token grants. */
    public record Enrollment(String id, Instant expiry, int maxUses) {}

    /** Creates a new random enrollment key file, readable by its owner only. */
    public static void createKeyFile(Path file) {
        if (Files.exists(file)) {
            throw new TransportConfigException(
                    "enrollment key " + file + " already exists: reuse it, or delete it first");
        }
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        try {
            if (file.getParent() != null) {
                Files.createDirectories(file.getParent());
            }
            Files.createFile(file);
            try {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                // no POSIX permissions on this file system
            }
            Files.writeString(
                    file,
                    Base64.getEncoder().encodeToString(key) + "\n",
                    StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write enrollment key " + file, e);
        }
    }

    /** Tokens under the key in {@code file}. */
    public static EnrollmentTokens fromKeyFile(Path file) {
        return new EnrollmentTokens(readKey(file));
    }

    /** The key in a file made by {@code metisfl enroll init}, checked. */
    static byte[] readKey(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            throw new TransportConfigException(
                    "enrollment key "
                            + file
                            + " does not exist: create it with `bin/metisfl enroll init --key "
                            + file
                            + "`");
        } catch (IOException e) {
            throw new TransportConfigException(
                    "cannot read enrollment key " + file + ": " + e.getMessage());
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            key = new byte[0];
        }
        if (key.length < 32) {
            throw new TransportConfigException(
                    "enrollment key "
                            + file
                            + " is not a key made by `metisfl enroll init` (base64 of 32 random"
                            + " bytes)");
        }
        return key;
    }

    /** A new token that admits {@code maxUses} learners (0 = unlimited) until {@code validity}. */
    public String issue(int maxUses, Duration validity, Instant now) {
        if (maxUses < 0) {
            throw new IllegalArgumentException("uses must be 0 (unlimited) or more");
        }
        if (validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("an enrollment token must be valid for some time");
        }
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        Map<String, String> claims = new LinkedHashMap<>();
        claims.put("id", HexFormat.of().formatHex(id));
        claims.put("uses", Integer.toString(maxUses));
        return tokens.sign(claims, now.plus(validity));
    }

    /**
     * What {@code token} grants, or an {@link SignedToken.InvalidTokenException} saying why not.
     */
    public Enrollment verify(String token, Instant now) {
        Map<String, String> c = tokens.verify(token, now);
        try {
            return new Enrollment(
                    c.get("id"),
                    Instant.ofEpochSecond(Long.parseLong(c.get("exp"))),
                    Integer.parseInt(c.get("uses")));
        } catch (RuntimeException e) {
            throw new SignedToken.InvalidTokenException("the enrollment token is not well formed");
        }
    }
}
