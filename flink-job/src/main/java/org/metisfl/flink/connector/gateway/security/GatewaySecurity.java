package org.metisfl.flink.connector.gateway.security;

import static org.metisfl.flink.config.FederationOptions.SECURITY_ADMISSION;
import static org.metisfl.flink.config.FederationOptions.SECURITY_ALLOWED_IDENTITIES;
import static org.metisfl.flink.config.FederationOptions.SECURITY_ENROLLMENT_KEY;
import static org.metisfl.flink.config.FederationOptions.SECURITY_INSECURE;
import static org.metisfl.flink.config.FederationOptions.SECURITY_OPERATOR_KEY;
import static org.metisfl.flink.config.FederationOptions.SECURITY_TLS_CERTIFICATE;
import static org.metisfl.flink.config.FederationOptions.SECURITY_TLS_CLIENT_AUTH;
import static org.metisfl.flink.config.FederationOptions.SECURITY_TLS_PRIVATE_KEY;
import static org.metisfl.flink.config.FederationOptions.SECURITY_TLS_TRUST_ROOTS;
import static org.metisfl.flink.config.FederationOptions.SECURITY_TOKEN_LIFETIME;

import java.io.Serializable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationOptions.Admission;
import org.metisfl.flink.config.FederationOptions.ClientAuth;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.transport.TransportSecurity;

/**
 * The gateway's security settings, validated: how the learner port is protected, who may join, and
 * how long a learner's session token lives. Holds file paths, never key material (the files are
 * read by each gateway where it runs), so it can travel in the job graph without a secret reaching
 * the web UI's job configuration.
 */
public final class GatewaySecurity implements Serializable {
    private static final long serialVersionUID = 1L;

    private final TransportSecurity learnerPort;
    private final Admission admission;
    private final String enrollmentKey;
    private final String operatorKey;
    private final List<String> allowedIdentities;
    private final long tokenLifetimeMs;

    private GatewaySecurity(
            TransportSecurity learnerPort,
            Admission admission,
            String enrollmentKey,
            String operatorKey,
            List<String> allowedIdentities,
            long tokenLifetimeMs) {
        this.learnerPort = learnerPort;
        this.admission = admission;
        this.enrollmentKey = enrollmentKey;
        this.operatorKey = operatorKey;
        this.allowedIdentities = List.copyOf(allowedIdentities);
        this.tokenLifetimeMs = tokenLifetimeMs;
    }

    /** Reads and validates the federation's {@code security.*} keys. */
    public static GatewaySecurity from(FederationConfig config) {
        return from(config.security());
    }

    /** Reads and validates the {@code security.*} keys. */
    public static GatewaySecurity from(Configuration c) {
        boolean insecure = c.get(SECURITY_INSECURE);
        Optional<String> cert = c.getOptional(SECURITY_TLS_CERTIFICATE);
        Optional<String> key = c.getOptional(SECURITY_TLS_PRIVATE_KEY);
        Optional<String> roots = c.getOptional(SECURITY_TLS_TRUST_ROOTS);
        ClientAuth clientAuth = c.get(SECURITY_TLS_CLIENT_AUTH);
        Admission admission = c.get(SECURITY_ADMISSION);
        TransportSecurity port;
        if (insecure) {
            if (cert.isPresent() || key.isPresent() || clientAuth == ClientAuth.REQUIRE) {
                throw new InvalidConfigException(
                        "'"
                                + SECURITY_INSECURE.key()
                                + ": true' contradicts the TLS settings ("
                                + SECURITY_TLS_CERTIFICATE.key()
                                + ", "
                                + SECURITY_TLS_CLIENT_AUTH.key()
                                + "): remove one or the other");
            }
            port = TransportSecurity.insecure();
        } else {
            require(cert, SECURITY_TLS_CERTIFICATE);
            require(key, SECURITY_TLS_PRIVATE_KEY);
            TransportSecurity.Builder b =
                    TransportSecurity.builder()
                            .mode(
                                    clientAuth == ClientAuth.REQUIRE
                                            ? TransportSecurity.Mode.MUTUAL_TLS
                                            : TransportSecurity.Mode.TLS)
                            .certificateChain(Path.of(cert.get()))
                            .privateKey(Path.of(key.get()));
            if (clientAuth == ClientAuth.REQUIRE) {
                if (roots.isEmpty()) {
                    throw new InvalidConfigException(
                            "'"
                                    + SECURITY_TLS_CLIENT_AUTH.key()
                                    + ": require' needs '"
                                    + SECURITY_TLS_TRUST_ROOTS.key()
                                    + "', the PEM CA that issues learner certificates (e.g."
                                    + " certs/ca.pem from `bin/metisfl certs`)");
                }
                b.trustRoots(Path.of(roots.get()));
            }
            port = b.build();
        }
        List<String> identities = new ArrayList<>();
        for (String id : c.get(SECURITY_ALLOWED_IDENTITIES).split(",")) {
            if (!id.isBlank()) {
                identities.add(id.trim());
            }
        }
        String enrollmentKey = c.getOptional(SECURITY_ENROLLMENT_KEY).orElse(null);
        switch (admission) {
            case ENROLLMENT -> {
                if (enrollmentKey == null) {
                    throw new InvalidConfigException(
                            "'"
                                    + SECURITY_ADMISSION.key()
                                    + ": enrollment' needs '"
                                    + SECURITY_ENROLLMENT_KEY.key()
                                    + "': create a key with `bin/metisfl enroll init --key FILE`"
                                    + " and set it, or choose another admission ('certificate',"
                                    + " or 'open' for local development)");
                }
            }
            case CERTIFICATE -> {
                if (clientAuth != ClientAuth.REQUIRE || insecure) {
                    throw new InvalidConfigException(
                            "'"
                                    + SECURITY_ADMISSION.key()
                                    + ": certificate' needs mutual TLS: set '"
                                    + SECURITY_TLS_CLIENT_AUTH.key()
                                    + ": require' and '"
                                    + SECURITY_TLS_TRUST_ROOTS.key()
                                    + "'");
                }
                if (identities.isEmpty()) {
                    throw new InvalidConfigException(
                            "'"
                                    + SECURITY_ADMISSION.key()
                                    + ": certificate' needs '"
                                    + SECURITY_ALLOWED_IDENTITIES.key()
                                    + "': the comma-separated common names of the learners'"
                                    + " certificates");
                }
            }
            case OPEN -> {}
        }
        Duration lifetime = c.get(SECURITY_TOKEN_LIFETIME);
        if (lifetime.compareTo(Duration.ofMinutes(1)) < 0
                || lifetime.compareTo(Duration.ofDays(30)) > 0) {
            throw new InvalidConfigException(
                    "invalid value '"
                            + lifetime
                            + "' for key '"
                            + SECURITY_TOKEN_LIFETIME.key()
                            + "': use a duration between 1 min and 30 d, e.g. 1 h");
        }
        String operatorKey =
                c.getOptional(SECURITY_OPERATOR_KEY)
                        .filter(k -> !k.isBlank())
                        .orElse(enrollmentKey);
        return new GatewaySecurity(
                port, admission, enrollmentKey, operatorKey, identities, lifetime.toMillis());
    }

    /** Plaintext and open admission: for tests of other things and local development. */
    public static GatewaySecurity insecureForDevelopment() {
        return new GatewaySecurity(
                TransportSecurity.insecure(),
                Admission.OPEN,
                null,
                null,
                List.of(),
                Duration.ofHours(1).toMillis());
    }

    private static void require(Optional<String> value, ConfigOption<String> key) {
        if (value.isEmpty() || value.get().isBlank()) {
            throw new InvalidConfigException(
                    "the learner port serves TLS by default and needs '"
                            + key.key()
                            + "': create development certificates with `bin/metisfl certs` and"
                            + " set security.tls.certificate and security.tls.private-key, or set"
                            + " 'security.insecure: true' for local development only");
        }
    }

    public TransportSecurity learnerPort() {
        return learnerPort;
    }

    public Admission admission() {
        return admission;
    }

    /** The enrollment key file (ENROLLMENT admission), else null. */
    public String enrollmentKey() {
        return enrollmentKey;
    }

    /**
     * The key file operator commands are authenticated with ({@code security.operator-key}, else
     * the enrollment key), or null: every operator command is refused.
     */
    public String operatorKey() {
        return operatorKey;
    }

    public List<String> allowedIdentities() {
        return allowedIdentities;
    }

    public Duration tokenLifetime() {
        return Duration.ofMillis(tokenLifetimeMs);
    }

    @Override
    public String toString() {
        return "learner port "
                + learnerPort.describe()
                + ", admission "
                + admission
                + ", token lifetime "
                + tokenLifetime();
    }
}
