package org.metisfl.crypto.kernel;

/**
 * A source of {@link RnsKernels} found through {@link java.util.ServiceLoader} (for example the
 * native kernels of {@code metisfl-native}). Like netty's {@code Epoll}, a provider that cannot
 * work on this machine says so through {@link #isAvailable()} and {@link #unavailabilityCause()}
 * instead of failing at class loading.
 */
public interface RnsKernelProvider {

    /** The kernels' name, as {@link RnsKernels#name()} ("native"). */
    String name();

    /** Higher wins among available providers; the Java kernels have priority 0. */
    int priority();

    boolean isAvailable();

    /** Why {@link #isAvailable()} is false, or null when it is true. */
    Throwable unavailabilityCause();

    /** The kernels; only called when {@link #isAvailable()}. */
    RnsKernels kernels();
}
