package org.metisfl.flink.config;

import static org.metisfl.flink.config.FederationOptions.GATEWAY_CONNECTION_IDLE_TIMEOUT;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_HANDSHAKE_TIMEOUT;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_JOIN_RATE;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_JOIN_RATE_PER_ADDRESS;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_MAX_CALLS_PER_CONNECTION;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_MAX_LEARNERS;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_MAX_METADATA_SIZE;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOADS_IN_FLIGHT;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOADS_PER_LEARNER;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOAD_IDLE_TIMEOUT;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOAD_INTEGRITY;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOAD_MIN_RATE;
import static org.metisfl.flink.config.FederationOptions.GATEWAY_UPLOAD_RATE_GRACE;

import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.metisfl.flink.config.FederationOptions.UploadIntegrity;

/**
 * What one participant, and all of them together, may cost a gateway: the {@code
 * gateway.upload-integrity} and {@code gateway.limits.*} keys as a validated, immutable snapshot.
 * The defaults serve 100,000 learners on one gateway.
 */
public final class GatewayLimits implements Serializable {
    private static final long serialVersionUID = 1L;

    private final UploadIntegrity uploadIntegrity;
    private final int maxCallsPerConnection;
    private final int maxMetadataBytes;
    private final Duration handshakeTimeout;
    private final Duration connectionIdleTimeout;
    private final int maxLearners;
    private final int joinRate;
    private final int joinRatePerAddress;
    private final int uploadsInFlight;
    private final int uploadsPerLearner;
    private final Duration uploadIdleTimeout;
    private final long uploadMinBytesPerSecond;
    private final Duration uploadRateGrace;

    private GatewayLimits(Configuration c) {
        uploadIntegrity = c.get(GATEWAY_UPLOAD_INTEGRITY);
        maxCallsPerConnection = positive(c, GATEWAY_MAX_CALLS_PER_CONNECTION);
        long metadata = c.get(GATEWAY_MAX_METADATA_SIZE).getBytes();
        check(
                metadata >= 1024 && metadata <= (1 << 20),
                GATEWAY_MAX_METADATA_SIZE,
                c.get(GATEWAY_MAX_METADATA_SIZE),
                "use a size between 1 kb and 1 mb");
        maxMetadataBytes = (int) metadata;
        handshakeTimeout = positiveDuration(c, GATEWAY_HANDSHAKE_TIMEOUT);
        connectionIdleTimeout = positiveDuration(c, GATEWAY_CONNECTION_IDLE_TIMEOUT);
        maxLearners = positive(c, GATEWAY_MAX_LEARNERS);
        joinRate = positive(c, GATEWAY_JOIN_RATE);
        joinRatePerAddress = c.get(GATEWAY_JOIN_RATE_PER_ADDRESS);
        check(
                joinRatePerAddress >= 0,
                GATEWAY_JOIN_RATE_PER_ADDRESS,
                joinRatePerAddress,
                "set it to 0 (off) or more");
        uploadsInFlight = positive(c, GATEWAY_UPLOADS_IN_FLIGHT);
        uploadsPerLearner = positive(c, GATEWAY_UPLOADS_PER_LEARNER);
        uploadIdleTimeout = positiveDuration(c, GATEWAY_UPLOAD_IDLE_TIMEOUT);
        uploadMinBytesPerSecond = c.get(GATEWAY_UPLOAD_MIN_RATE).getBytes();
        uploadRateGrace = c.get(GATEWAY_UPLOAD_RATE_GRACE);
        check(
                !uploadRateGrace.isNegative(),
                GATEWAY_UPLOAD_RATE_GRACE,
                uploadRateGrace,
                "use 0 or a positive duration, e.g. 10 s");
    }

    /** Reads and validates the keys; throws {@link InvalidConfigException} naming the key. */
    public static GatewayLimits from(Configuration c) {
        return new GatewayLimits(c);
    }

    /** The defaults. */
    public static GatewayLimits defaults() {
        return new GatewayLimits(new Configuration());
    }

    private static int positive(Configuration c, ConfigOption<Integer> key) {
        int v = c.get(key);
        check(v >= 1, key, v, "set it to 1 or more");
        return v;
    }

    private static Duration positiveDuration(Configuration c, ConfigOption<Duration> key) {
        Duration d = c.get(key);
        check(!d.isNegative() && !d.isZero(), key, d, "use a positive duration");
        return d;
    }

    private static void check(boolean ok, ConfigOption<?> key, Object value, String fix) {
        if (!ok) {
            throw new InvalidConfigException(
                    "invalid value '" + value + "' for key '" + key.key() + "': " + fix);
        }
    }

    /** True when an upload without chunk offsets and a CRC-32C is refused. */
    public boolean integrityRequired() {
        return uploadIntegrity == UploadIntegrity.REQUIRED;
    }

    public int maxCallsPerConnection() {
        return maxCallsPerConnection;
    }

    public int maxMetadataBytes() {
        return maxMetadataBytes;
    }

    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    public Duration connectionIdleTimeout() {
        return connectionIdleTimeout;
    }

    public int maxLearners() {
        return maxLearners;
    }

    /** Joins per second, and the bucket's size. */
    public int joinRate() {
        return joinRate;
    }

    /** Joins per second from one client address, and its bucket's size; 0: no such limit. */
    public int joinRatePerAddress() {
        return joinRatePerAddress;
    }

    public int uploadsInFlight() {
        return uploadsInFlight;
    }

    public int uploadsPerLearner() {
        return uploadsPerLearner;
    }

    public Duration uploadIdleTimeout() {
        return uploadIdleTimeout;
    }

    /** 0: no minimum rate. */
    public long uploadMinBytesPerSecond() {
        return uploadMinBytesPerSecond;
    }

    public Duration uploadRateGrace() {
        return uploadRateGrace;
    }
}
