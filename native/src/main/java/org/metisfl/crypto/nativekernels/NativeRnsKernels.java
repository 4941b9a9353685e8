package org.metisfl.crypto.nativekernels;

import java.util.Objects;
import org.metisfl.crypto.kernel.NttTable;
import org.metisfl.crypto.kernel.RnsKernels;

/** {@link RnsKernels} in C++ (bit-identical to the Java kernels). */
public final class NativeRnsKernels implements RnsKernels {

    static final NativeRnsKernels INSTANCE = new NativeRnsKernels();

    private NativeRnsKernels() {}

    /**
     * The native kernels.
     *
     * @throws IllegalStateException if the native library did not load (with the cause)
     */
    public static NativeRnsKernels get() {
        NativeRnsKernelProvider p = new NativeRnsKernelProvider();
        if (!p.isAvailable()) {
            throw new IllegalStateException(
                    "native RNS kernels unavailable: " + p.unavailabilityCause(),
                    p.unavailabilityCause());
        }
        return INSTANCE;
    }

    @Override
    public String name() {
        return "native";
    }

    private static void check(long[] a, int off, int len) {
        Objects.checkFromIndexSize(off, len, a.length);
    }

    @Override
    public void forwardNtt(long[] a, int off, NttTable t) {
        check(a, off, t.n);
        NativeRns.forwardNtt(a, off, t.n, t.q, t.psiRev, t.psiRevShoup);
    }

    @Override
    public void inverseNtt(long[] a, int off, NttTable t) {
        check(a, off, t.n);
        NativeRns.inverseNtt(a, off, t.n, t.q, t.psiInvRev, t.psiInvRevShoup, t.nInv, t.nInvShoup);
    }

    @Override
    public void addMod(long[] a, int aOff, long[] b, int bOff, int len, long q) {
        check(a, aOff, len);
        check(b, bOff, len);
        NativeRns.addMod(a, aOff, b, bOff, len, q);
    }

    @Override
    public void mulScalarMod(long[] a, int off, int len, long w, long wShoup, long q) {
        check(a, off, len);
        NativeRns.mulScalarMod(a, off, len, w, wShoup, q);
    }

    @Override
    public void mulPointwiseMod(
            long[] a, int aOff, long[] w, long[] wShoup, int wOff, int len, long q) {
        check(a, aOff, len);
        check(w, wOff, len);
        check(wShoup, wOff, len);
        NativeRns.mulPointwiseMod(a, aOff, w, wShoup, wOff, len, q);
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
        check(a, aOff, len);
        check(w, wOff, len);
        check(wShoup, wOff, len);
        check(b, bOff, len);
        NativeRns.mulPointwiseAddMod(a, aOff, w, wShoup, wOff, b, bOff, len, q);
    }

    @Override
    public void mulScalarAddMod(
            long[] acc, int accOff, long[] b, int bOff, int len, long w, long wShoup, long q) {
        check(acc, accOff, len);
        check(b, bOff, len);
        NativeRns.mulScalarAddMod(acc, accOff, b, bOff, len, w, wShoup, q);
    }
}
