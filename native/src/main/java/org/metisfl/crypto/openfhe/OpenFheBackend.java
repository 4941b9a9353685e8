package org.metisfl.crypto.openfhe;

import java.util.List;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeBackend;
import org.metisfl.crypto.HeContext;

/**
 * The {@value #ID} backend: CKKS from OpenFHE (1.2 or newer) through a small C++ shim. Available
 * only where the {@code openfhe} Maven profile compiled the shim against an installed OpenFHE;
 * elsewhere {@link #unavailabilityCause()} says how to get it.
 */
public final class OpenFheBackend implements HeBackend {

    public static final String ID = "openfhe-ckks";

    private static final Throwable UNAVAILABILITY_CAUSE = probe();

    private static Throwable probe() {
        try {
            OpenFheCkks.lastError();
            return null;
        } catch (Throwable t) {
            return new UnsupportedOperationException(
                    "the OpenFHE shim was not built into this metisfl-native: install OpenFHE and"
                            + " build with OPENFHE_HOME set (Maven profile 'openfhe'; see"
                            + " native/README.md) ["
                            + t
                            + "]",
                    t);
        }
    }

    @Override
    public String id() {
        return ID;
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
    public List<String> presets() {
        return CkksParameters.presetNames();
    }

    @Override
    public HeContext create(CkksParameters parameters) {
        if (!isAvailable()) {
            throw new IllegalStateException(
                    "HE backend '" + ID + "' is unavailable: " + UNAVAILABILITY_CAUSE,
                    UNAVAILABILITY_CAUSE);
        }
        return new OpenFheContext(parameters);
    }
}
