package org.metisfl.crypto.ckks;

import org.metisfl.crypto.kernel.ModArith;

/**
 * The canonical-embedding encoding of CKKS. A message is n/2 complex slots z_j; its encoding is the
 * real polynomial m(X) of degree < n with m(ζ^(5^j)) = z_j for ζ = e^(iπ/n) (and so m at the
 * conjugate roots gives the conjugates). Writing u_k = m_k + i·m_(k+n/2), z_j = Σ_k u_k ζ^(5^j·k)
 * (because ζ^(5^j·n/2) = i), an n/2-point "special" FFT over the roots ζ^(5^j); its inverse is its
 * conjugate transpose divided by n/2.
 *
 * <p>Two real values share a slot (z_j = x_j + i·x_(j+n/2)), so a polynomial carries n real values;
 * additions and real scalings act on real and imaginary parts separately.
 */
final class CkksEncoder {

    final int n;
    final int slots;
    private final int m;
    private final int logSlots;
    private final int[] rotGroup;
    private final double[] ksiRe;
    private final double[] ksiIm;

    CkksEncoder(int n) {
        this.n = n;
        this.slots = n / 2;
        this.m = 2 * n;
        this.logSlots = Integer.numberOfTrailingZeros(slots);
        rotGroup = new int[slots];
        long g = 1;
        for (int j = 0; j < slots; j++) {
            rotGroup[j] = (int) g;
            g = (g * 5) % m;
        }
        ksiRe = new double[m + 1];
        ksiIm = new double[m + 1];
        for (int k = 0; k <= m; k++) {
            double angle = 2 * Math.PI * k / m;
            ksiRe[k] = Math.cos(angle);
            ksiIm[k] = Math.sin(angle);
        }
    }

    /**
     * Encodes {@code values[from, to)} (at most n of them) at {@code scale}: the coefficients of
     * {@code scale · m(X)}, not yet rounded.
     */
    double[] encode(float[] values, int from, int to, double scale) {
        double[] re = new double[slots];
        double[] im = new double[slots];
        int len = to - from;
        for (int j = 0; j < Math.min(len, slots); j++) {
            re[j] = values[from + j];
        }
        for (int j = slots; j < len; j++) {
            im[j - slots] = values[from + j];
        }
        inverseSpecialFft(re, im);
        double[] coeffs = new double[n];
        for (int k = 0; k < slots; k++) {
            coeffs[k] = re[k] * scale;
            coeffs[k + slots] = im[k] * scale;
        }
        return coeffs;
    }

    /** Decodes the first {@code count} values of the polynomial {@code coeffs / scale}. */
    double[] decode(double[] coeffs, double scale, int count) {
        double[] re = new double[slots];
        double[] im = new double[slots];
        double inv = 1.0 / scale;
        for (int k = 0; k < slots; k++) {
            re[k] = coeffs[k] * inv;
            im[k] = coeffs[k + slots] * inv;
        }
        specialFft(re, im);
        double[] out = new double[count];
        for (int j = 0; j < count; j++) {
            out[j] = j < slots ? re[j] : im[j - slots];
        }
        return out;
    }

    /** u to z: z_j = Σ_k u_k ζ^(5^j·k), in place. */
    void specialFft(double[] re, double[] im) {
        bitReverse(re, im);
        for (int len = 2; len <= slots; len <<= 1) {
            int lenh = len >> 1;
            int lenq = len << 2;
            int gap = m / lenq;
            for (int i = 0; i < slots; i += len) {
                for (int j = 0; j < lenh; j++) {
                    int idx = (rotGroup[j] % lenq) * gap;
                    int a = i + j;
                    int b = a + lenh;
                    double vr = re[b] * ksiRe[idx] - im[b] * ksiIm[idx];
                    double vi = re[b] * ksiIm[idx] + im[b] * ksiRe[idx];
                    double ur = re[a];
                    double ui = im[a];
                    re[a] = ur + vr;
                    im[a] = ui + vi;
                    re[b] = ur - vr;
                    im[b] = ui - vi;
                }
            }
        }
    }

    /** z to u: the inverse of {@link #specialFft}, in place. */
    void inverseSpecialFft(double[] re, double[] im) {
        for (int len = slots; len >= 2; len >>= 1) {
            int lenh = len >> 1;
            int lenq = len << 2;
            int gap = m / lenq;
            for (int i = 0; i < slots; i += len) {
                for (int j = 0; j < lenh; j++) {
                    int idx = (lenq - (rotGroup[j] % lenq)) * gap;
                    int a = i + j;
                    int b = a + lenh;
                    double ur = re[a] + re[b];
                    double ui = im[a] + im[b];
                    double dr = re[a] - re[b];
                    double di = im[a] - im[b];
                    re[a] = ur;
                    im[a] = ui;
                    re[b] = dr * ksiRe[idx] - di * ksiIm[idx];
                    im[b] = dr * ksiIm[idx] + di * ksiRe[idx];
                }
            }
        }
        bitReverse(re, im);
        double inv = 1.0 / slots;
        for (int k = 0; k < slots; k++) {
            re[k] *= inv;
            im[k] *= inv;
        }
    }

    private void bitReverse(double[] re, double[] im) {
        for (int i = 0; i < slots; i++) {
            int r = ModArith.bitReverse(i, logSlots);
            if (i < r) {
                double t = re[i];
                re[i] = re[r];
                re[r] = t;
                t = im[i];
                im[i] = im[r];
                im[r] = t;
            }
        }
    }
}
