package org.metisfl.transport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The security a local trial runs with when the operator configured none: a development CA and
 * gateway certificate ({@link DevCertificates}) and an enrollment key in one folder, created on
 * first use, so the quickstart and a local cluster serve TLS with enrollment without a setup step.
 */
public final class DevSecurity {
    private final DevCertificates pki;
    private final Path enrollmentKey;

    private DevSecurity(Path dir) {
        this.pki = DevCertificates.in(dir);
        this.enrollmentKey = dir.resolve("enrollment.key");
    }

    /** The development security in {@code dir}, created if missing. */
    public static DevSecurity ensure(Path dir) {
        DevSecurity s = new DevSecurity(dir);
        if (!s.pki.exists()) {
            s.pki.createAuthority(List.of(), Duration.ofDays(365));
        }
        if (!Files.exists(s.enrollmentKey)) {
            EnrollmentTokens.createKeyFile(s.enrollmentKey);
        }
        return s;
    }

    /** The job's {@code security.*} settings for TLS with enrollment. */
    public Map<String, String> jobSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("security.tls.certificate", pki.gatewayCertificate().toString());
        m.put("security.tls.private-key", pki.gatewayKey().toString());
        m.put("security.enrollment-key", enrollmentKey.toString());
        return m;
    }

    /** The CA learners trust. */
    public Path trustRoots() {
        return pki.caCertificate();
    }

    public Path enrollmentKey() {
        return enrollmentKey;
    }

    /** A new enrollment token for {@code uses} learners (0 = any number), valid a day. */
    public String enrollmentToken(int uses) {
        return EnrollmentTokens.fromKeyFile(enrollmentKey)
                .issue(uses, Duration.ofDays(1), Instant.now());
    }

    /** How a learner of this trial connects: TLS trusting the development CA. */
    public TransportSecurity learnerTransport() {
        return TransportSecurity.builder()
                .mode(TransportSecurity.Mode.TLS)
                .trustRoots(trustRoots())
                .build();
    }
}
