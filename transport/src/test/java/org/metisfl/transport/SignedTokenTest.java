package org.metisfl.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SignedTokenTest {
    private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes();
    private static final Instant NOW = Instant.parse("2026-12-06T00:00:00Z");

    @Test
    void roundTripsClaimsUntilExpiry() {
        SignedToken t = SignedToken.forPurpose("mfl-learner-v1", SECRET);
        String token = t.sign(Map.of("sub", "learner-1"), NOW.plusSeconds(60));
        assertThat(t.verify(token, NOW)).containsEntry("sub", "learner-1");
        assertThatThrownBy(() -> t.verify(token, NOW.plusSeconds(60)))
                .hasMessageContaining("expired");
    }

    @Test
    void tamperedClaimsOrSignatureAreRefused() {
        SignedToken t = SignedToken.forPurpose("mfl-learner-v1", SECRET);
        String token = t.sign(Map.of("sub", "learner-1"), NOW.plusSeconds(60));
        String other = t.sign(Map.of("sub", "learner-2"), NOW.plusSeconds(60));
        String[] a = token.split("\\.");
        String[] b = other.split("\\.");
        assertThatThrownBy(() -> t.verify(a[0] + "." + b[1] + "." + a[2], NOW))
                .hasMessageContaining("signature");
        char c = token.charAt(token.length() - 2);
        String flipped =
                token.substring(0, token.length() - 2)
                        + (c == 'A' ? 'B' : 'A')
                        + token.charAt(token.length() - 1);
        assertThatThrownBy(() -> t.verify(flipped, NOW)).hasMessageContaining("signature");
        assertThatThrownBy(() -> t.verify("garbage", NOW)).hasMessageContaining("not a");
    }

    @Test
    void aTokenOfOnePurposeIsNotValidForAnother() {
        SignedToken learner = SignedToken.forPurpose("mfl-learner-v1", SECRET);
        SignedToken enroll = SignedToken.forPurpose("mfl-enroll-v1", SECRET);
        String token = learner.sign(Map.of("sub", "x"), NOW.plusSeconds(60));
        String relabelled = "mfl-enroll-v1" + token.substring(token.indexOf('.'));
        assertThatThrownBy(() -> enroll.verify(relabelled, NOW)).hasMessageContaining("signature");
    }

    @Test
    void derivedKeyIsTheSp800108CounterModeBlock() throws Exception {
        // Independent computation: HMAC-SHA256(K, 00000001 || label || 00 || 00000100).
        Mac m = Mac.getInstance("HmacSHA256");
        m.init(new SecretKeySpec(SECRET, "HmacSHA256"));
        byte[] label = "purpose".getBytes(StandardCharsets.US_ASCII);
        byte[] in = new byte[4 + label.length + 1 + 4];
        in[3] = 1;
        System.arraycopy(label, 0, in, 4, label.length);
        in[in.length - 2] = 1; // 256 = 0x00000100
        assertThat(HexFormat.of().formatHex(SignedToken.derive(SECRET, "purpose")))
                .isEqualTo(HexFormat.of().formatHex(m.doFinal(in)));
    }

    @Test
    void claimsCannotSmuggleSeparators() {
        SignedToken t = SignedToken.forPurpose("p", SECRET);
        assertThatThrownBy(() -> t.sign(Map.of("sub", "a;exp=9999999999"), NOW))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> t.sign(Map.of("sub", "a\nb"), NOW))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void enrollmentTokensCarryUsesAndExpiry(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("enrollment.key");
        EnrollmentTokens.createKeyFile(key);
        EnrollmentTokens tokens = EnrollmentTokens.fromKeyFile(key);
        String token = tokens.issue(1, Duration.ofHours(1), NOW);
        EnrollmentTokens.Enrollment e = tokens.verify(token, NOW.plusSeconds(10));
        assertThat(e.maxUses()).isEqualTo(1);
        assertThat(e.expiry()).isEqualTo(NOW.plus(Duration.ofHours(1)));
        assertThat(e.id()).hasSize(16);
        assertThatThrownBy(() -> tokens.verify(token, NOW.plus(Duration.ofHours(2))))
                .hasMessageContaining("expired");

        Path otherKey = dir.resolve("other.key");
        EnrollmentTokens.createKeyFile(otherKey);
        assertThatThrownBy(() -> EnrollmentTokens.fromKeyFile(otherKey).verify(token, NOW))
                .hasMessageContaining("signature");
        assertThatThrownBy(() -> EnrollmentTokens.createKeyFile(key))
                .hasMessageContaining("already exists");
        Files.writeString(dir.resolve("bad.key"), "short");
        assertThatThrownBy(() -> EnrollmentTokens.fromKeyFile(dir.resolve("bad.key")))
                .hasMessageContaining("not a key made by");
        assertThatThrownBy(() -> EnrollmentTokens.fromKeyFile(dir.resolve("none.key")))
                .hasMessageContaining("metisfl enroll init");
    }
}
