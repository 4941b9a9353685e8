package org.metisfl.crypto.nativekernels;

import org.metisfl.crypto.kernel.ModArith;
import org.metisfl.crypto.kernel.RnsKernelProvider;
import org.metisfl.crypto.kernel.RnsKernels;

/**
 * Offers the native kernels to {@link org.metisfl.crypto.kernel.RnsKernelsLoader} when their
 * library loads on this machine (checked once, like netty's {@code Epoll}).
 */
public final class NativeRnsKernelProvider implements RnsKernelProvider {

    private static final Throwable UNAVAILABILITY_CAUSE = probe();

    private static Throwable probe() {
        try {
            // loads the library, then checks one known answer: 3 * 5 mod 7 = 1
            long[] a = {3};
            NativeRns.mulScalarMod(a, 0, 1, 5, ModArith.shoupPrecompute(5, 7), 7);
            if (a[0] != 1) {
                return new IllegalStateException("native kernels answered 3*5 mod 7 = " + a[0]);
            }
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    @Override
    public String name() {
        return "native";
    }

    @Override
    public int priority() {
        return 10;
    }

    @Override
    public boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    @Override
    public Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    @Override
    public RnsKernels kernels() {
        return NativeRnsKernels.INSTANCE;
    }
}
