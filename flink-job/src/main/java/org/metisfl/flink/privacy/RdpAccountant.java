package org.metisfl.flink.privacy;

import java.io.Serializable;
import java.util.Arrays;

/**
 * A Rényi differential privacy accountant for the (Poisson-)sampled Gaussian mechanism.
 *
 * <p>One round of DP-FedAvg releases the sum of clipped updates plus {@code N(0, (z C)^2)}; each
 * learner takes part with probability {@code q}. Its Rényi DP of order {@code alpha} is {@code
 * log(A_alpha) / (alpha - 1)} with (Mironov, Talwar and Zhang 2019, "Rényi Differential Privacy of
 * the Sampled Gaussian Mechanism", Sections 3.2 and 3.3)
 *
 * <pre>{@code
 * A_alpha = E_{x ~ N(0, z^2)} [ ((1 - q) + q exp((2x - 1) / (2 z^2)))^alpha ]
 * }</pre>
 *
 * computed exactly by the binomial expansion for integer orders and bounded from above by the erfc
 * series for fractional ones. Rounds compose by adding their RDP (Mironov 2017, Proposition 1); the
 * total is turned into (epsilon, delta) with the conversion of Canonne, Kamath and Steinke 2020
 * (also Balle et al. 2020, Theorem 21): {@code eps = rdp + log(1 - 1/alpha) - (log(delta) +
 * log(alpha)) / (alpha - 1)}, minimised over the orders. The default orders are those Opacus and
 * TensorFlow Privacy use: 1.1 to 10.9 by 0.1, then 12 to 63.
 *
 * <p>The accountant's whole state is its RDP vector, so it is kept in Flink state as a {@code
 * double[]} ({@link #rdp()}, {@link #restore}).
 */
public final class RdpAccountant implements Serializable {
    private static final long serialVersionUID = 1L;

    /** 1.1, 1.2, ..., 10.9, 12, 13, ..., 63. */
    public static final double[] DEFAULT_ORDERS = defaultOrders();

    private final double[] orders;
    private final double[] rdp;

    private RdpAccountant(double[] orders, double[] rdp) {
        this.orders = orders;
        this.rdp = rdp;
    }

    /** An accountant over the default orders that has spent nothing yet. */
    public static RdpAccountant create() {
        return withOrders(DEFAULT_ORDERS);
    }

    /** An accountant over the given orders (each > 1) that has spent nothing yet. */
    public static RdpAccountant withOrders(double[] orders) {
        for (double a : orders) {
            if (!(a > 1) || Double.isInfinite(a)) {
                throw new IllegalArgumentException("orders must be finite and > 1, got " + a);
            }
        }
        return new RdpAccountant(orders.clone(), new double[orders.length]);
    }

    /** An accountant over the default orders that has spent {@code rdp} (from {@link #rdp()}). */
    public static RdpAccountant restore(double[] rdp) {
        if (rdp == null) {
            return create();
        }
        if (rdp.length != DEFAULT_ORDERS.length) {
            throw new IllegalArgumentException(
                    "RDP vector has " + rdp.length + " orders, expected " + DEFAULT_ORDERS.length);
        }
        return new RdpAccountant(DEFAULT_ORDERS, rdp.clone());
    }

    /**
     * Spends {@code steps} runs of the Gaussian mechanism with {@code noiseMultiplier}, each on a
     * Poisson sample of rate {@code samplingRate} of the learners.
     */
    public RdpAccountant compose(double samplingRate, double noiseMultiplier, long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, was " + steps);
        }
        double[] one = sampledGaussian(samplingRate, noiseMultiplier, orders);
        for (int i = 0; i < orders.length; i++) {
            rdp[i] += steps * one[i];
        }
        return this;
    }

    /** The smallest epsilon of the spent budget for this delta, over the orders. */
    public double epsilon(double delta) {
        return epsilon(orders, rdp, delta).epsilon();
    }

    /** A copy of the RDP spent so far, one value per order. */
    public double[] rdp() {
        return rdp.clone();
    }

    public double[] orders() {
        return orders.clone();
    }

    /** An (epsilon, delta) guarantee and the order that gave it. */
    public record Guarantee(double epsilon, double order) {}

    /**
     * Converts an RDP curve to the smallest epsilon for {@code delta} (Canonne, Kamath and Steinke
     * 2020, Proposition 12; Balle et al. 2020, Theorem 21).
     */
    public static Guarantee epsilon(double[] orders, double[] rdp, double delta) {
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1), was " + delta);
        }
        if (orders.length != rdp.length || orders.length == 0) {
            throw new IllegalArgumentException(
                    orders.length + " orders but " + rdp.length + " RDP values");
        }
        double best = Double.POSITIVE_INFINITY;
        double bestOrder = Double.NaN;
        double logDelta = Math.log(delta);
        for (int i = 0; i < orders.length; i++) {
            double a = orders[i];
            double r = rdp[i];
            if (!(r >= 0)) {
                throw new IllegalArgumentException("RDP must be >= 0, was " + r + " at " + a);
            }
            // A small RDP bounds the KL divergence, hence the total variation distance by
            // sqrt(1 - e^-r) (Pinsker's inequality in the Bretagnolle-Huber form): (0, delta)-DP.
            double eps =
                    delta * delta + Math.expm1(-r) > 0
                            ? 0
                            : r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
            if (eps < best) {
                best = eps;
                bestOrder = a;
            }
        }
        return new Guarantee(Math.max(0, best), bestOrder);
    }

    /** The RDP of one run of the sampled Gaussian mechanism at each order. */
    public static double[] sampledGaussian(double q, double noiseMultiplier, double[] orders) {
        double[] out = new double[orders.length];
        for (int i = 0; i < orders.length; i++) {
            out[i] = sampledGaussian(q, noiseMultiplier, orders[i]);
        }
        return out;
    }

    /** The RDP of order {@code alpha} of one run of the sampled Gaussian mechanism. */
    public static double sampledGaussian(double q, double noiseMultiplier, double alpha) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("sampling rate must be in [0, 1], was " + q);
        }
        if (!(noiseMultiplier >= 0)) {
            throw new IllegalArgumentException(
                    "noise multiplier must be >= 0, was " + noiseMultiplier);
        }
        if (!(alpha > 1)) {
            throw new IllegalArgumentException("order must be > 1, was " + alpha);
        }
        if (q == 0) {
            return 0;
        }
        if (noiseMultiplier == 0 || Double.isInfinite(alpha)) {
            return Double.POSITIVE_INFINITY;
        }
        if (q == 1) {
            return alpha / (2 * noiseMultiplier * noiseMultiplier);
        }
        double logA =
                alpha == Math.rint(alpha) && alpha < Integer.MAX_VALUE
                        ? logAInteger(q, noiseMultiplier, (int) alpha)
                        : logAFractional(q, noiseMultiplier, alpha);
        return logA / (alpha - 1);
    }

    /** log A_alpha for an integer order: the binomial expansion (MTZ 2019, Section 3.2). */
    static double logAInteger(double q, double sigma, int alpha) {
        double logA = Double.NEGATIVE_INFINITY;
        double logBinom = 0; // log C(alpha, k)
        double logQ = Math.log(q);
        double log1mQ = Math.log1p(-q);
        for (int k = 0; k <= alpha; k++) {
            if (k > 0) {
                logBinom += Math.log(alpha - k + 1) - Math.log(k);
            }
            double term =
                    logBinom
                            + k * logQ
                            + (alpha - k) * log1mQ
                            + ((double) k * k - k) / (2 * sigma * sigma);
            logA = logAdd(logA, term);
        }
        return logA;
    }

    /**
     * An upper bound of log A_alpha for a fractional order: the series of MTZ 2019, Section 3.3,
     * that splits the integral at {@code z0 = sigma^2 log(1/q - 1) + 1/2} and expands both halves
     * with generalised binomial coefficients, here with every coefficient taken by its absolute
     * value. The signed series is exact but cancels; the absolute one can only overstate epsilon
     * (by about 3% of the RDP at order 1.5 for q = 0.01, sigma = 2.5, and less at the larger orders
     * that usually decide epsilon), which is the safe side. Google's dp_accounting does the same.
     * Terms are added until they fall below e^-30.
     */
    static double logAFractional(double q, double sigma, double alpha) {
        double logA0 = Double.NEGATIVE_INFINITY;
        double logA1 = Double.NEGATIVE_INFINITY;
        double z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
        double logQ = Math.log(q);
        double log1mQ = Math.log1p(-q);
        double logCoef = 0; // log |binom(alpha, i)|
        double sqrt2Sigma = Math.sqrt(2) * sigma;
        for (int i = 0; ; i++) {
            if (i > 0) {
                logCoef += Math.log(Math.abs((alpha - i + 1) / i));
            }
            double j = alpha - i;
            double logT0 = logCoef + i * logQ + j * log1mQ;
            double logT1 = logCoef + j * logQ + i * log1mQ;
            double logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
            double logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
            double logS0 = logT0 + ((double) i * i - i) / (2 * sigma * sigma) + logE0;
            double logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
            logA0 = logAdd(logA0, logS0);
            logA1 = logAdd(logA1, logS1);
            if (i > alpha && Math.max(logS0, logS1) < -30) {
                break;
            }
            if (i > 100_000) {
                throw new ArithmeticException(
                        "RDP series did not converge for q=" + q + ", sigma=" + sigma);
            }
        }
        return logAdd(logA0, logA1);
    }

    static double logAdd(double a, double b) {
        if (a == Double.NEGATIVE_INFINITY) {
            return b;
        }
        if (b == Double.NEGATIVE_INFINITY) {
            return a;
        }
        double hi = Math.max(a, b);
        return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
    }

    /**
     * log(erfc(x)) to about 1e-14 relative: erfc = 1 - erf with erf's Taylor series for |x| < 2.5,
     * the Laplace continued fraction (evaluated with Lentz's method) above, and erfc(-x) = 2 -
     * erfc(x) for negative x.
     */
    static double logErfc(double x) {
        if (x < 0) {
            return Math.log(2 - Math.exp(logErfc(-x)));
        }
        if (x < 2.5) {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double term = x;
            double sum = x;
            double x2 = x * x;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            return Math.log(1 - 2 / Math.sqrt(Math.PI) * sum);
        }
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
        double tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0;
        for (int k = 1; k < 500; k++) {
            double a = k / 2.0;
            d = x + a * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c = x + a / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return -x * x - 0.5 * Math.log(Math.PI) - Math.log(f);
    }

    private static double[] defaultOrders() {
        double[] o = new double[99 + 52];
        for (int x = 1; x < 100; x++) {
            o[x - 1] = 1 + x / 10.0;
        }
        for (int a = 12; a < 64; a++) {
            o[99 + a - 12] = a;
        }
        return o;
    }

    @Override
    public String toString() {
        return "RdpAccountant{orders=" + orders.length + ", rdp=" + Arrays.toString(rdp) + "}";
    }
}
