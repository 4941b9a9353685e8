package org.metisfl.crypto.ckks;

import java.util.List;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeBackend;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.kernel.RnsKernels;
import org.metisfl.crypto.kernel.RnsKernelsLoader;

/**
 * The default backend, {@value JavaCkksContext#BACKEND_ID}: RNS-CKKS in Java, always available. Its
 * kernels are the native ones when {@code metisfl-native} is on the class path and loads, else pure
 * Java ({@link RnsKernelsLoader}); ciphertexts are the same either way.
 */
public final class JavaCkksBackend implements HeBackend {

    @Override
    public String id() {
        return JavaCkksContext.BACKEND_ID;
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public Throwable unavailabilityCause() {
        return null;
    }

    @Override
    public List<String> presets() {
        return CkksParameters.presetNames();
    }

    @Override
    public HeContext create(CkksParameters parameters) {
        return new JavaCkksContext(
                parameters, RnsKernelsLoader.defaultKernels(), RandomSource.secure());
    }

    /** A context with chosen kernels and randomness (tests, benchmarks). */
    public static JavaCkksContext create(
            CkksParameters parameters, RnsKernels kernels, RandomSource random) {
        return new JavaCkksContext(parameters, kernels, random);
    }
}
