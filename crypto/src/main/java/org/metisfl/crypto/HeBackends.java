package org.metisfl.crypto;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds {@link HeBackend}s on the class path through {@link ServiceLoader}. */
public final class HeBackends {

    /** The pure-Java RNS-CKKS backend, always available. */
    public static final String DEFAULT_BACKEND = "metisfl-ckks";

    private HeBackends() {}

    /** Every backend on the class path, available or not. */
    public static List<HeBackend> all() {
        List<HeBackend> out = new ArrayList<>();
        for (HeBackend b : ServiceLoader.load(HeBackend.class, HeBackends.class.getClassLoader())) {
            out.add(b);
        }
        return out;
    }

    /**
     * The backend with this id.
     *
     * @throws IllegalArgumentException if no backend has this id
     * @throws IllegalStateException if it is on the class path but unavailable (with its cause)
     */
    public static HeBackend get(String id) {
        List<String> known = new ArrayList<>();
        for (HeBackend b : all()) {
            if (b.id().equals(id)) {
                if (!b.isAvailable()) {
                    throw new IllegalStateException(
                            "HE backend '" + id + "' is unavailable: " + b.unavailabilityCause(),
                            b.unavailabilityCause());
                }
                return b;
            }
            known.add(b.id() + (b.isAvailable() ? "" : " (unavailable)"));
        }
        throw new IllegalArgumentException(
                "no HE backend '" + id + "' on the class path; known: " + known);
    }

    /** A context of the backend {@code id} with a named preset. */
    public static HeContext context(String id, String preset) {
        return get(id).create(CkksParameters.preset(preset));
    }
}
