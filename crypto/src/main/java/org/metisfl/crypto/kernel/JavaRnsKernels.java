package org.metisfl.crypto.kernel;

/** The reference kernels in pure Java (Shoup multiplication, Cooley-Tukey/Gentleman-Sande NTT). */
public final class JavaRnsKernels implements RnsKernels {

    public static final JavaRnsKernels INSTANCE = new JavaRnsKernels();

    private JavaRnsKernels() {}

    @Override
    public String name() {
        return "java";
    }

    @Override
    public void forwardNtt(long[] a, int off, NttTable tab) {
        final int n = tab.n;
        final long q = tab.q;
        final long[] w = tab.psiRev;
        final long[] ws = tab.psiRevShoup;
        for (int m = 1, t = n >> 1; m < n; m <<= 1, t >>= 1) {
            for (int i = 0; i < m; i++) {
                final long s = w[m + i];
                final long sp = ws[m + i];
                final int j1 = off + 2 * i * t;
                final int j2 = j1 + t;
                for (int j = j1; j < j2; j++) {
                    long u = a[j];
                    long x = a[j + t];
                    long hi = Math.multiplyHigh(x, sp) + ((sp >> 63) & x);
                    long v = x * s - hi * q - q;
                    v += (v >> 63) & q;
                    long sum = u + v - q;
                    a[j] = sum + ((sum >> 63) & q);
                    long d = u - v;
                    a[j + t] = d + ((d >> 63) & q);
                }
            }
        }
    }

    @Override
    public void inverseNtt(long[] a, int off, NttTable tab) {
        final int n = tab.n;
        final long q = tab.q;
        final long[] w = tab.psiInvRev;
        final long[] ws = tab.psiInvRevShoup;
        for (int m = n >> 1, t = 1; m >= 1; m >>= 1, t <<= 1) {
            for (int i = 0; i < m; i++) {
                final long s = w[m + i];
                final long sp = ws[m + i];
                final int j1 = off + 2 * i * t;
                final int j2 = j1 + t;
                for (int j = j1; j < j2; j++) {
                    long u = a[j];
                    long x = a[j + t];
                    long sum = u + x - q;
                    a[j] = sum + ((sum >> 63) & q);
                    long d = u - x + q; // in (0, 2q)
                    long hi = Math.multiplyHigh(d, sp) + ((sp >> 63) & d);
                    long v = d * s - hi * q - q;
                    a[j + t] = v + ((v >> 63) & q);
                }
            }
        }
        mulScalarMod(a, off, n, tab.nInv, tab.nInvShoup, q);
    }

    @Override
    public void addMod(long[] a, int aOff, long[] b, int bOff, int len, long q) {
        for (int i = 0; i < len; i++) {
            long s = a[aOff + i] + b[bOff + i] - q;
            a[aOff + i] = s + ((s >> 63) & q);
        }
    }

    @Override
    public void mulScalarMod(long[] a, int off, int len, long w, long wShoup, long q) {
        final long corr = wShoup >> 63;
        for (int i = off, end = off + len; i < end; i++) {
            long x = a[i];
            long hi = Math.multiplyHigh(x, wShoup) + (corr & x);
            long r = x * w - hi * q - q;
            a[i] = r + ((r >> 63) & q);
        }
    }

    @Override
    public void mulPointwiseMod(
            long[] a, int aOff, long[] w, long[] wShoup, int wOff, int len, long q) {
        for (int i = 0; i < len; i++) {
            long x = a[aOff + i];
            long wp = wShoup[wOff + i];
            long hi = Math.multiplyHigh(x, wp) + ((wp >> 63) & x);
            long r = x * w[wOff + i] - hi * q - q;
            a[aOff + i] = r + ((r >> 63) & q);
        }
    }

    @Override
    public void mulPointwiseAddMod(
            long[] a,
            int aOff,
            long[] w,
            long[] wShoup,
            int wOff,
            long[] b,
            int bOff,
            int len,
            long q) {
        for (int i = 0; i < len; i++) {
            long x = a[aOff + i];
            long wp = wShoup[wOff + i];
            long hi = Math.multiplyHigh(x, wp) + ((wp >> 63) & x);
            long r = x * w[wOff + i] - hi * q - q;
            r += (r >> 63) & q;
            long s = r + b[bOff + i] - q;
            a[aOff + i] = s + ((s >> 63) & q);
        }
    }

    @Override
    public void mulScalarAddMod(
            long[] acc, int accOff, long[] b, int bOff, int len, long w, long wShoup, long q) {
        final long corr = wShoup >> 63;
        for (int i = 0; i < len; i++) {
            long x = b[bOff + i];
            long hi = Math.multiplyHigh(x, wShoup) + (corr & x);
            long r = x * w - hi * q - q;
            r += (r >> 63) & q;
            long s = acc[accOff + i] + r - q;
            acc[accOff + i] = s + ((s >> 63) & q);
        }
    }
}
