package org.metisfl.flink.privacy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class RdpAccountantTest {

    /**
     * Published values: Google's dp_accounting library (the successor of TensorFlow Privacy's
     * rdp_accountant), rdp_privacy_accountant_test.py, test_compute_rdp_poisson_sampled_gaussian: q
     * = 0.01, noise multiplier 2.5, 50 steps, at orders 1.5, 2.5, 5, 50 and 100, checked there with
     * a relative tolerance of 1e-4. Orders 1.5 and 2.5 exercise the fractional series (the same
     * upper bound as dp_accounting's), 5, 50, 100 the exact binomial expansion.
     */
    @Test
    void matchesThePublishedRdpOfThePoissonSampledGaussian() {
        double[] orders = {1.5, 2.5, 5, 50, 100};
        double[] published = {
            6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02
        };
        double[] rdp = RdpAccountant.withOrders(orders).compose(0.01, 2.5, 50).rdp();
        for (int i = 0; i < orders.length; i++) {
            assertThat(rdp[i])
                    .as("order %s", orders[i])
                    .isCloseTo(published[i], within(1e-4 * published[i]));
        }
    }

    /**
     * Published values: the same test file, test_compute_epsilon_delta_gaussian: the unsampled
     * Gaussian mechanism with noise multiplier 4.530877117 is exactly (1, 1e-6)-DP (Balle and Wang
     * 2018, Theorem 8), and the RDP conversion over orders 1.001..99.999 (step 0.001) attains it to
     * 7 decimals.
     */
    @Test
    void reachesTheOptimalGaussianEpsilonOnAFineGridOfOrders() {
        double[] orders = new double[98_999];
        for (int i = 0; i < orders.length; i++) {
            orders[i] = 1.001 + 0.001 * i;
        }
        double eps = RdpAccountant.withOrders(orders).compose(1.0, 4.530877117, 1).epsilon(1e-6);
        assertThat(eps).isCloseTo(1.0, within(1e-6));
    }

    /**
     * The conversion alone, on the published case of the same file (test_compute_epsilon_delta_
     * pure_dp): a constant RDP of 1.1 over orders 2..32 gives epsilon 1.32783806176 at delta 1e-5,
     * at order 32. By hand: 1.1 + ln(31/32) + (ln(1e5) - ln(32)) / 31.
     */
    @Test
    void convertsRdpToEpsilonAsPublished() {
        double[] orders = new double[31];
        double[] rdp = new double[31];
        for (int i = 0; i < 31; i++) {
            orders[i] = 2 + i;
            rdp[i] = 1.1;
        }
        RdpAccountant.Guarantee g = RdpAccountant.epsilon(orders, rdp, 1e-5);
        assertThat(g.epsilon()).isCloseTo(1.32783806176, within(1e-9));
        assertThat(g.order()).isEqualTo(32.0);
        double byHand = 1.1 + Math.log(31.0 / 32) + (Math.log(1e5) - Math.log(32)) / 31;
        assertThat(g.epsilon()).isCloseTo(byHand, within(1e-12));
    }

    /**
     * Abadi et al. 2016, "Deep Learning with Differential Privacy", Section 3.1: with q = 0.01,
     * sigma = 4, delta = 1e-5 and T = 10000 steps the moments accountant gives epsilon ~ 1.26. The
     * moments accountant is RDP with integer moments lambda = alpha - 1 <= 32 and the classic
     * conversion eps = min (T * rdp(alpha) + log(1/delta) / (alpha - 1)); this accountant's tighter
     * conversion over more orders must not give more.
     */
    @Test
    void reproducesAbadiEtAlsMomentsAccountantFigure() {
        double[] orders = new double[32];
        for (int i = 0; i < 32; i++) {
            orders[i] = 2 + i; // lambda = 1..32
        }
        double[] rdp = RdpAccountant.withOrders(orders).compose(0.01, 4, 10_000).rdp();
        double classic = Double.POSITIVE_INFINITY;
        for (int i = 0; i < orders.length; i++) {
            classic = Math.min(classic, rdp[i] + Math.log(1 / 1e-5) / (orders[i] - 1));
        }
        assertThat(classic).isCloseTo(1.26, within(0.005));
        double tight = RdpAccountant.create().compose(0.01, 4, 10_000).epsilon(1e-5);
        assertThat(tight).isLessThanOrEqualTo(classic).isGreaterThan(0.8);
    }

    /**
     * An independent computation: A_alpha as the integral that defines it (MTZ 2019, Section 3), by
     * the trapezoid rule in log space. Integer orders are exact; fractional ones an upper bound
     * that stays within 5% of the integral.
     */
    @Test
    void agreesWithNumericalIntegrationOfTheDefinition() {
        double[][] cases = { // q, sigma, alpha
            {0.01, 1.0, 2},
            {0.3, 0.8, 3},
            {0.05, 1.5, 12},
            {0.01, 2.5, 50},
            {0.01, 1.0, 2.5},
            {0.1, 2.0, 7.3},
            {0.5, 3.0, 1.7},
            {0.001, 0.7, 5.5},
            {0.01, 2.5, 1.5}
        };
        for (double[] c : cases) {
            double q = c[0];
            double sigma = c[1];
            double alpha = c[2];
            double exact = logAByIntegration(q, sigma, alpha) / (alpha - 1);
            double actual = RdpAccountant.sampledGaussian(q, sigma, alpha);
            if (alpha == Math.rint(alpha)) {
                assertThat(actual)
                        .as("q=%s sigma=%s alpha=%s", q, sigma, alpha)
                        .isCloseTo(exact, within(1e-6 * exact));
            } else {
                assertThat(actual)
                        .as("q=%s sigma=%s alpha=%s", q, sigma, alpha)
                        .isGreaterThanOrEqualTo(exact * (1 - 1e-6))
                        .isLessThanOrEqualTo(q <= 0.1 ? exact * 1.05 : exact * 3);
            }
        }
    }

    @Test
    void theUnsampledGaussianHasRdpAlphaOverTwoSigmaSquared() {
        // Mironov 2017, Proposition 7.
        assertThat(RdpAccountant.sampledGaussian(1.0, 2.71828, 3.14159))
                .isCloseTo(3.14159 / (2 * 2.71828 * 2.71828), within(1e-15));
    }

    @Test
    void composesLinearlyAndRestoresFromItsRdp() {
        RdpAccountant once = RdpAccountant.create().compose(0.05, 1.1, 1);
        RdpAccountant many = RdpAccountant.create();
        for (int i = 0; i < 20; i++) {
            many.compose(0.05, 1.1, 1);
        }
        double[] a = once.rdp();
        double[] b = many.rdp();
        for (int i = 0; i < a.length; i++) {
            assertThat(b[i]).isCloseTo(20 * a[i], within(1e-12 * b[i] + 1e-300));
        }
        assertThat(RdpAccountant.restore(many.rdp()).epsilon(1e-5)).isEqualTo(many.epsilon(1e-5));
        // more rounds, more noise, more sampling: epsilon moves the right way
        assertThat(many.epsilon(1e-5)).isGreaterThan(once.epsilon(1e-5));
        assertThat(RdpAccountant.create().compose(0.05, 2.0, 20).epsilon(1e-5))
                .isLessThan(many.epsilon(1e-5));
        assertThat(RdpAccountant.create().compose(0.5, 1.1, 20).epsilon(1e-5))
                .isGreaterThan(many.epsilon(1e-5));
    }

    @Test
    void spendsNothingWithoutSamplingAndEverythingWithoutNoise() {
        assertThat(RdpAccountant.create().compose(0, 1, 100).epsilon(1e-5)).isZero();
        assertThat(RdpAccountant.create().compose(0.1, 0, 1).epsilon(1e-5)).isInfinite();
    }

    @Test
    void refusesImpossibleArguments() {
        assertThatThrownBy(() -> RdpAccountant.create().epsilon(0))
                .hasMessageContaining("delta must be in (0, 1)");
        assertThatThrownBy(() -> RdpAccountant.create().compose(1.5, 1, 1))
                .hasMessageContaining("sampling rate must be in [0, 1]");
        assertThatThrownBy(() -> RdpAccountant.withOrders(new double[] {1.0}))
                .hasMessageContaining("orders must be finite and > 1");
        assertThatThrownBy(() -> RdpAccountant.restore(new double[3]))
                .hasMessageContaining("3 orders");
    }

    @Test
    void logErfcIsAccurateOverItsRange() {
        // Reference values of erfc (Abramowitz and Stegun, Table 7.1; and erfc(x) ~ exp(-x^2) /
        // (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)) for large x).
        assertThat(Math.exp(RdpAccountant.logErfc(0))).isCloseTo(1.0, within(1e-15));
        assertThat(Math.exp(RdpAccountant.logErfc(0.5)))
                .isCloseTo(0.4795001221869535, within(1e-14));
        assertThat(Math.exp(RdpAccountant.logErfc(2.0)))
                .isCloseTo(0.004677734981047266, within(1e-15));
        assertThat(Math.exp(RdpAccountant.logErfc(-1.0)))
                .isCloseTo(1.8427007929497148, within(1e-14));
        double x = 30;
        double asymptotic =
                -x * x
                        - Math.log(x * Math.sqrt(Math.PI))
                        + Math.log(
                                1
                                        - 1 / (2 * x * x)
                                        + 3 / (4 * Math.pow(x, 4))
                                        - 15 / (8 * Math.pow(x, 6)));
        assertThat(RdpAccountant.logErfc(x)).isCloseTo(asymptotic, within(1e-9));
    }

    /** log of E_{x ~ N(0, sigma^2)} [((1-q) + q exp((2x-1)/(2 sigma^2)))^alpha], numerically. */
    private static double logAByIntegration(double q, double sigma, double alpha) {
        double lo = -40 * sigma;
        double hi = alpha + 40 * sigma;
        int n = 400_000;
        double h = (hi - lo) / n;
        double max = Double.NEGATIVE_INFINITY;
        double[] logs = new double[n + 1];
        for (int k = 0; k <= n; k++) {
            double x = lo + k * h;
            double logDensity =
                    -x * x / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
            double e = (2 * x - 1) / (2 * sigma * sigma);
            // log((1-q) + q e^e), stably
            double logMix =
                    e > 0
                            ? e + Math.log(q + (1 - q) * Math.exp(-e))
                            : Math.log((1 - q) + q * Math.exp(e));
            logs[k] = logDensity + alpha * logMix + (k == 0 || k == n ? Math.log(0.5) : 0);
            max = Math.max(max, logs[k]);
        }
        double sum = 0;
        for (double l : logs) {
            sum += Math.exp(l - max);
        }
        return max + Math.log(sum * h);
    }
}
