package org.metisfl.flink.aggregation.kernel;

/**
 * The staleness functions of FedAsync (Xie, Koyejo, Gupta, arXiv:1903.03934, 2019, Section 5.2).
 */
final class StalenessFunctions {

    private StalenessFunctions() {}

    static long requireStaleness(long staleness) {
        if (staleness < 0) {
            throw new IllegalArgumentException("staleness must be >= 0, was " + staleness);
        }
        return staleness;
    }

    static final class Constant implements Staleness {
        private static final long serialVersionUID = 1L;

        @Override
        public double weight(long staleness) {
            requireStaleness(staleness);
            return 1;
        }

        @Override
        public String toString() {
            return "Staleness.constant()";
        }
    }

    static final class Polynomial implements Staleness {
        private static final long serialVersionUID = 1L;

        private final double a;

        Polynomial(double a) {
            this.a = Checks.requireNonNegative("a", a);
        }

        @Override
        public double weight(long staleness) {
            return Math.pow(requireStaleness(staleness) + 1.0, -a);
        }

        @Override
        public String toString() {
            return "Staleness.polynomial(a=" + a + ")";
        }
    }

    static final class Hinge implements Staleness {
        private static final long serialVersionUID = 1L;

        private final double a;
        private final long b;

        Hinge(double a, long b) {
            this.a = Checks.requireNonNegative("a", a);
            if (b < 0) {
                throw new IllegalArgumentException("b must be >= 0, was " + b);
            }
            this.b = b;
        }

        @Override
        public double weight(long staleness) {
            long s = requireStaleness(staleness);
            return s <= b ? 1 : 1 / (a * (s - b) + 1);
        }

        @Override
        public String toString() {
            return "Staleness.hinge(a=" + a + ", b=" + b + ")";
        }
    }
}
