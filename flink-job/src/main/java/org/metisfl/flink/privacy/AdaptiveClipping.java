package org.metisfl.flink.privacy;

import java.io.Serializable;
import java.util.Random;

/**
 * Adaptive clipping (Andrew, Thakkar, McMahan and Ramaswamy, "Differentially Private Learning with
 * Adaptive Clipping", NeurIPS 2021, Algorithm 1): the clip norm follows a target quantile {@code
 * gamma} of the updates' norms by a geometric step on a noised count of the updates that were not
 * clipped,
 *
 * <pre>{@code
 * b~ = (sum_i (b_i - 1/2) + N(0, sigma_b^2)) / m + 1/2        b_i = [||delta_i|| <= C]
 * C  <- C * exp(-eta_C * (b~ - gamma))
 * }</pre>
 *
 * where {@code m} is the expected number of contributions. Centring the bits makes the count's
 * sensitivity 1/2, so the count is a Gaussian mechanism of noise multiplier {@code 2 sigma_b}; the
 * update sum then gets the smaller multiplier of {@link #updateNoiseMultiplier} so that both
 * together cost what one Gaussian mechanism of the configured multiplier costs.
 */
public final class AdaptiveClipping implements Serializable {
    private static final long serialVersionUID = 1L;

    private final double targetQuantile;
    private final double learningRate;

    private AdaptiveClipping(double targetQuantile, double learningRate) {
        this.targetQuantile = targetQuantile;
        this.learningRate = learningRate;
    }

    /**
     * @param targetQuantile the fraction gamma of updates the clip norm should leave unclipped, in
     *     (0, 1) (0.5 tracks the median norm)
     * @param learningRate the geometric step eta_C, > 0 (the paper uses 0.2)
     */
    public static AdaptiveClipping of(double targetQuantile, double learningRate) {
        if (!(targetQuantile > 0 && targetQuantile < 1)) {
            throw new IllegalArgumentException(
                    "target quantile must be in (0, 1), was " + targetQuantile);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException(
                    "clip learning rate must be finite and > 0, was " + learningRate);
        }
        return new AdaptiveClipping(targetQuantile, learningRate);
    }

    /**
     * The noised fraction b~ of unclipped updates.
     *
     * @param unclipped how many of the round's updates had a norm within the clip norm
     * @param contributions how many updates the round summed
     * @param expected the expected number of contributions m (> 0)
     * @param countStddev sigma_b, the standard deviation of the noise on the count (0: none)
     */
    public static double noisedUnclippedFraction(
            long unclipped, long contributions, double expected, double countStddev, Random rng) {
        if (unclipped < 0 || unclipped > contributions) {
            throw new IllegalArgumentException(
                    "unclipped must be in [0, " + contributions + "], was " + unclipped);
        }
        if (!(expected > 0)) {
            throw new IllegalArgumentException("expected must be > 0, was " + expected);
        }
        double centred = unclipped - 0.5 * contributions;
        double noise = countStddev > 0 ? countStddev * rng.nextGaussian() : 0;
        return (centred + noise) / expected + 0.5;
    }

    /** The next round's clip norm, {@code clip * exp(-eta * (fraction - gamma))}. */
    public double next(double clip, double noisedFraction) {
        if (!(clip > 0) || Double.isInfinite(clip)) {
            throw new IllegalArgumentException("clip norm must be finite and > 0, was " + clip);
        }
        return clip * Math.exp(-learningRate * (noisedFraction - targetQuantile));
    }

    /**
     * The noise multiplier of the update sum when the count query spends part of the budget: {@code
     * (z^-2 - (2 sigma_b)^-2)^-1/2} (Andrew et al., Section 3.1). Two Gaussian mechanisms of
     * multipliers z1 and z2 compose like one of multiplier (z1^-2 + z2^-2)^-1/2 in Rényi DP.
     *
     * @throws IllegalArgumentException when the count alone would cost more than {@code z} allows
     *     ({@code 2 sigma_b <= z})
     */
    public static double updateNoiseMultiplier(double noiseMultiplier, double countStddev) {
        if (!(noiseMultiplier > 0)) {
            throw new IllegalArgumentException(
                    "noise multiplier must be > 0, was " + noiseMultiplier);
        }
        double rest = 1 / (noiseMultiplier * noiseMultiplier) - 1 / (4 * countStddev * countStddev);
        if (!(rest > 0)) {
            throw new IllegalArgumentException(
                    "the clipped-count noise stddev "
                            + countStddev
                            + " leaves no budget for the update sum at noise multiplier "
                            + noiseMultiplier
                            + ": it must exceed noise-multiplier / 2 = "
                            + noiseMultiplier / 2);
        }
        return 1 / Math.sqrt(rest);
    }

    public double targetQuantile() {
        return targetQuantile;
    }

    public double learningRate() {
        return learningRate;
    }
}
