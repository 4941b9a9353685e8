package org.metisfl.flink.config;

import java.io.Serializable;
import java.util.Optional;
import org.metisfl.flink.config.FederationOptions.ClipOn;
import org.metisfl.flink.config.FederationOptions.Clipping;

/**
 * The {@code privacy.*} group of a federation's configuration as an immutable snapshot, for the
 * parts that apply central DP (gateway, aggregators, coordinator). Taken from the validated {@link
 * FederationConfig}; accessors are named as there.
 */
public final class PrivacyOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    private final boolean centralDp;
    private final double noiseMultiplier;
    private final double clipNorm;
    private final Clipping clipping;
    private final double targetQuantile;
    private final double clipLearningRate;
    private final Double configuredCountStddev;
    private final double delta;
    private final ClipOn clipOn;
    private final Long noiseSeed;

    private PrivacyOptions(FederationConfig c) {
        centralDp = c.centralDp();
        noiseMultiplier = c.noiseMultiplier();
        clipNorm = c.clipNorm();
        clipping = c.clipping();
        targetQuantile = c.targetQuantile();
        clipLearningRate = c.clipLearningRate();
        delta = c.privacyDelta();
        clipOn = c.clipOn();
        noiseSeed = c.noiseSeed().orElse(null);
        configuredCountStddev = c.configuredClippedCountStddev();
    }

    public static PrivacyOptions from(FederationConfig config) {
        return new PrivacyOptions(config);
    }

    public boolean centralDp() {
        return centralDp;
    }

    public double noiseMultiplier() {
        return noiseMultiplier;
    }

    /** The clip norm of the first round (of every round with fixed clipping). */
    public double clipNorm() {
        return clipNorm;
    }

    public Clipping clipping() {
        return clipping;
    }

    public boolean adaptive() {
        return clipping == Clipping.ADAPTIVE;
    }

    public double targetQuantile() {
        return targetQuantile;
    }

    public double clipLearningRate() {
        return clipLearningRate;
    }

    /** See {@link FederationConfig#clippedCountStddevOf(int)}. */
    public double clippedCountStddevOf(int participants) {
        return configuredCountStddev != null
                ? configuredCountStddev
                : Math.max(participants / 20.0, noiseMultiplier);
    }

    /**
     * The noise multiplier of the update sum: the configured one with fixed clipping; with adaptive
     * clipping the smaller one that leaves room for the count's noise (Andrew et al. 2021).
     */
    public double sumNoiseMultiplier(int participants) {
        return adaptive()
                ? org.metisfl.flink.privacy.AdaptiveClipping.updateNoiseMultiplier(
                        noiseMultiplier, clippedCountStddevOf(participants))
                : noiseMultiplier;
    }

    public double delta() {
        return delta;
    }

    public ClipOn clipOn() {
        return clipOn;
    }

    /** The noise seed, for tests only; empty means SecureRandom. */
    public Optional<Long> noiseSeed() {
        return Optional.ofNullable(noiseSeed);
    }
}
