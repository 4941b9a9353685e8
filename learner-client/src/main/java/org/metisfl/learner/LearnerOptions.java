package org.metisfl.learner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.transport.TransportSecurity;

/**
 * Timeouts, reconnection and transfer settings of a {@link Learner}; immutable. The defaults suit a
 * learner on a LAN or the internet; tests shorten the backoffs.
 *
 * <pre>{@code
 * LearnerOptions options = LearnerOptions.builder()
 *         .callTimeout(Duration.ofSeconds(10))
 *         .reconnectMaxBackoff(Duration.ofSeconds(60))
 *         .build();
 * }</pre>
 */
public final class LearnerOptions {
    /** Largest data chunk the learner ever sends: 1 MiB. */
    public static final int MAX_CHUNK_BYTES_LIMIT = 1 << 20;

    private static final LearnerOptions DEFAULTS = builder().build();

    private final Duration callTimeout;
    private final Duration transferTimeout;
    private final Duration reconnectInitialBackoff;
    private final Duration reconnectMaxBackoff;
    private final int maxReconnectAttempts;
    private final int maxChunkBytes;
    private final Duration keepAliveTime;
    private final TransportSecurity transportSecurity;
    private final String enrollmentToken;
    private final KeyBundle keyBundle;
    private final Path thresholdShareDir;
    private final boolean committeeEligible;

    private LearnerOptions(Builder b) {
        this.callTimeout = b.callTimeout;
        this.transferTimeout = b.transferTimeout;
        this.reconnectInitialBackoff = b.reconnectInitialBackoff;
        this.reconnectMaxBackoff = b.reconnectMaxBackoff;
        this.maxReconnectAttempts = b.maxReconnectAttempts;
        this.maxChunkBytes = b.maxChunkBytes;
        this.keepAliveTime = b.keepAliveTime;
        this.transportSecurity = b.transportSecurity;
        this.enrollmentToken = b.enrollmentToken;
        this.keyBundle = b.keyBundle;
        this.thresholdShareDir = b.thresholdShareDir;
        this.committeeEligible =
                b.committeeEligible != null ? b.committeeEligible : b.thresholdShareDir != null;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The default options. */
    public static LearnerOptions defaults() {
        return DEFAULTS;
    }

    /** Deadline of each short call (join, evaluation report, leave). Default 30 s. */
    public Duration callTimeout() {
        return callTimeout;
    }

    /**
     * Deadline of a model download or an update upload, including the gateway's wait for the update
     * to be checkpointed. Default 5 min.
     */
    public Duration transferTimeout() {
        return transferTimeout;
    }

    /** Wait before the first reconnect attempt; doubled per failed attempt. Default 500 ms. */
    public Duration reconnectInitialBackoff() {
        return reconnectInitialBackoff;
    }

    /** Upper bound of the wait between reconnect attempts. Default 30 s. */
    public Duration reconnectMaxBackoff() {
        return reconnectMaxBackoff;
    }

    /**
     * Consecutive failed attempts after which {@link Learner#run()} gives up with a {@link
     * LearnerException}. Default {@link Integer#MAX_VALUE} (keep trying).
     */
    public int maxReconnectAttempts() {
        return maxReconnectAttempts;
    }

    /**
     * Upper bound of an upload data chunk; the learner also stays 64 KiB below the gateway's
     * announced message limit. Default and maximum 1 MiB.
     */
    public int maxChunkBytes() {
        return maxChunkBytes;
    }

    /**
     * Interval of HTTP/2 keepalive pings, sent even without calls so that a dead gateway is noticed
     * on an idle task stream. Default 30 s; the gateway must permit it.
     */
    public Duration keepAliveTime() {
        return keepAliveTime;
    }

    /**
     * How the learner protects its connection to the gateways: TLS against the gateway's trust
     * roots (mutual TLS with the learner's own certificate), or plaintext for local development.
     * Default: TLS, trusting the system's root certificates.
     */
    public TransportSecurity transportSecurity() {
        return transportSecurity;
    }

    /** The operator-issued enrollment token the learner joins with, if the federation needs one. */
    public java.util.Optional<String> enrollmentToken() {
        return java.util.Optional.ofNullable(enrollmentToken);
    }

    /**
     * The federation's CKKS key bundle (secure aggregation, shared-key mode), if the learner joins
     * a federation with {@code secure-aggregation: ckks}: updates are then encrypted before they
     * leave the learner and the global model is decrypted before the adapter sees it. Join fails
     * with a {@link LearnerException} naming the difference when the bundle does not match the
     * federation's backend and parameters, when a CKKS federation is joined without one, or when a
     * plaintext federation is joined with one.
     */
    public Optional<KeyBundle> keyBundle() {
        return Optional.ofNullable(keyBundle);
    }

    /**
     * Threshold mode ({@code secure-aggregation: ckks-threshold}): the directory where this learner
     * keeps its secret key shares when it sits on the decryption committee, one file per committee
     * epoch, owner-only, never overwritten. It must survive restarts (a member that loses its share
     * can no longer take part in decryptions) and belong to this learner and federation alone.
     * Empty if not set; a learner without one never sits on a committee.
     */
    public Optional<Path> thresholdShareDir() {
        return Optional.ofNullable(thresholdShareDir);
    }

    /**
     * Threshold mode: whether the learner offers to sit on the decryption committee ({@code
     * JoinRequest.committee_eligible}): it stays up for the whole federation and keeps its share in
     * {@link #thresholdShareDir()}. Default: true when a share directory is set.
     */
    public boolean committeeEligible() {
        return committeeEligible;
    }

    /** A builder that starts from these options. */
    public Builder toBuilder() {
        return new Builder()
                .callTimeout(callTimeout)
                .transferTimeout(transferTimeout)
                .reconnectInitialBackoff(reconnectInitialBackoff)
                .reconnectMaxBackoff(reconnectMaxBackoff)
                .maxReconnectAttempts(maxReconnectAttempts)
                .maxChunkBytes(maxChunkBytes)
                .keepAliveTime(keepAliveTime)
                .transportSecurity(transportSecurity)
                .enrollmentToken(enrollmentToken)
                .keyBundle(keyBundle)
                .thresholdShareDir(thresholdShareDir)
                .committeeEligible(committeeEligible);
    }

    @Override
    public String toString() {
        return "LearnerOptions{callTimeout="
                + callTimeout
                + ", transferTimeout="
                + transferTimeout
                + ", reconnectBackoff="
                + reconnectInitialBackoff
                + ".."
                + reconnectMaxBackoff
                + ", maxReconnectAttempts="
                + maxReconnectAttempts
                + ", maxChunkBytes="
                + maxChunkBytes
                + ", keepAliveTime="
                + keepAliveTime
                + ", transport="
                + transportSecurity.describe()
                + (keyBundle == null
                        ? ""
                        : ", keyBundle="
                                + keyBundle.backendId()
                                + "/"
                                + keyBundle.preset()
                                + " key "
                                + keyBundle.keyId())
                + (thresholdShareDir == null
                        ? ""
                        : ", thresholdShareDir="
                                + thresholdShareDir
                                + (committeeEligible ? " (committee-eligible)" : ""))
                + "}";
    }

    /** Builds {@link LearnerOptions}; {@link #build()} validates. */
    public static final class Builder {
        private Duration callTimeout = Duration.ofSeconds(30);
        private Duration transferTimeout = Duration.ofMinutes(5);
        private Duration reconnectInitialBackoff = Duration.ofMillis(500);
        private Duration reconnectMaxBackoff = Duration.ofSeconds(30);
        private int maxReconnectAttempts = Integer.MAX_VALUE;
        private int maxChunkBytes = MAX_CHUNK_BYTES_LIMIT;
        private Duration keepAliveTime = Duration.ofSeconds(30);
        private TransportSecurity transportSecurity =
                TransportSecurity.builder().mode(TransportSecurity.Mode.TLS).build();
        private String enrollmentToken;
        private KeyBundle keyBundle;
        private Path thresholdShareDir;
        private Boolean committeeEligible;

        Builder() {}

        public Builder callTimeout(Duration callTimeout) {
            this.callTimeout = Objects.requireNonNull(callTimeout, "callTimeout");
            return this;
        }

        public Builder transferTimeout(Duration transferTimeout) {
            this.transferTimeout = Objects.requireNonNull(transferTimeout, "transferTimeout");
            return this;
        }

        public Builder reconnectInitialBackoff(Duration reconnectInitialBackoff) {
            this.reconnectInitialBackoff =
                    Objects.requireNonNull(reconnectInitialBackoff, "reconnectInitialBackoff");
            return this;
        }

        public Builder reconnectMaxBackoff(Duration reconnectMaxBackoff) {
            this.reconnectMaxBackoff =
                    Objects.requireNonNull(reconnectMaxBackoff, "reconnectMaxBackoff");
            return this;
        }

        public Builder maxReconnectAttempts(int maxReconnectAttempts) {
            this.maxReconnectAttempts = maxReconnectAttempts;
            return this;
        }

        public Builder maxChunkBytes(int maxChunkBytes) {
            this.maxChunkBytes = maxChunkBytes;
            return this;
        }

        public Builder keepAliveTime(Duration keepAliveTime) {
            this.keepAliveTime = Objects.requireNonNull(keepAliveTime, "keepAliveTime");
            return this;
        }

        /**
         * TLS (the default, with the system's trust roots), mutual TLS, or {@link
         * TransportSecurity#insecure()} for local development only.
         */
        public Builder transportSecurity(TransportSecurity transportSecurity) {
            this.transportSecurity = Objects.requireNonNull(transportSecurity, "transportSecurity");
            return this;
        }

        /**
         * The enrollment token from the federation's operator ({@code metisfl enroll create}); sent
         * with Join only, as call credentials. Null for federations that admit otherwise.
         */
        public Builder enrollmentToken(String enrollmentToken) {
            this.enrollmentToken =
                    enrollmentToken == null || enrollmentToken.isBlank()
                            ? null
                            : enrollmentToken.trim();
            return this;
        }

        /**
         * The federation's key bundle for secure aggregation ({@code KeyBundle.load(dir.resolve(
         * KeyBundle.SECRET_FILE))}, written by {@code metisfl keys generate}); null (the default)
         * for a plaintext federation.
         */
        public Builder keyBundle(KeyBundle keyBundle) {
            this.keyBundle = keyBundle;
            return this;
        }

        /**
         * Threshold mode: the directory for this learner's secret key shares (see {@link
         * LearnerOptions#thresholdShareDir()}); null (the default) for none.
         */
        public Builder thresholdShareDir(Path thresholdShareDir) {
            this.thresholdShareDir = thresholdShareDir;
            return this;
        }

        /**
         * Threshold mode: offer to sit on the decryption committee (needs {@link
         * #thresholdShareDir}); default true when a share directory is set.
         */
        public Builder committeeEligible(boolean committeeEligible) {
            this.committeeEligible = committeeEligible;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the invalid property and a valid value
         */
        public LearnerOptions build() {
            if (keyBundle != null && thresholdShareDir != null) {
                throw new IllegalArgumentException(
                        "keyBundle and thresholdShareDir are both set, but a federation is either"
                                + " shared-key (secure-aggregation: ckks: every learner holds the"
                                + " key bundle) or threshold (secure-aggregation: ckks-threshold:"
                                + " no learner holds the key, committee members keep shares):"
                                + " set the one the federation uses");
            }
            if (Boolean.TRUE.equals(committeeEligible) && thresholdShareDir == null) {
                throw new IllegalArgumentException(
                        "committeeEligible is true but thresholdShareDir is not set: a committee"
                                + " member must keep its key share on disk across restarts; set"
                                + " thresholdShareDir(dir), a directory of this learner's own");
            }
            if (thresholdShareDir != null
                    && Files.exists(thresholdShareDir)
                    && !Files.isDirectory(thresholdShareDir)) {
                throw new IllegalArgumentException(
                        "thresholdShareDir "
                                + thresholdShareDir
                                + " is a file, not a directory; give a directory of this learner's"
                                + " own (created if missing)");
            }
            requirePositive("callTimeout", callTimeout, "e.g. Duration.ofSeconds(30)");
            requirePositive("transferTimeout", transferTimeout, "e.g. Duration.ofMinutes(5)");
            requirePositive(
                    "reconnectInitialBackoff",
                    reconnectInitialBackoff,
                    "e.g. Duration.ofMillis(500)");
            requirePositive(
                    "reconnectMaxBackoff", reconnectMaxBackoff, "e.g. Duration.ofSeconds(30)");
            requirePositive("keepAliveTime", keepAliveTime, "e.g. Duration.ofSeconds(30)");
            if (reconnectMaxBackoff.compareTo(reconnectInitialBackoff) < 0) {
                throw new IllegalArgumentException(
                        "reconnectMaxBackoff ("
                                + reconnectMaxBackoff
                                + ") is shorter than reconnectInitialBackoff ("
                                + reconnectInitialBackoff
                                + "); raise reconnectMaxBackoff or lower reconnectInitialBackoff");
            }
            if (maxReconnectAttempts < 1) {
                throw new IllegalArgumentException(
                        "maxReconnectAttempts is "
                                + maxReconnectAttempts
                                + " but must be at least 1; use Integer.MAX_VALUE to keep trying");
            }
            if (maxChunkBytes < 1 || maxChunkBytes > MAX_CHUNK_BYTES_LIMIT) {
                throw new IllegalArgumentException(
                        "maxChunkBytes is "
                                + maxChunkBytes
                                + " but must be between 1 and "
                                + MAX_CHUNK_BYTES_LIMIT
                                + " (1 MiB); leave it unset for 1 MiB");
            }
            return new LearnerOptions(this);
        }

        private static void requirePositive(String property, Duration value, String example) {
            if (value.isZero() || value.isNegative()) {
                throw new IllegalArgumentException(
                        property + " is " + value + " but must be positive, " + example);
            }
        }
    }
}
