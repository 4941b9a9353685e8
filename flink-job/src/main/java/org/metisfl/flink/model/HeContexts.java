package org.metisfl.flink.model;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;

/**
 * The job's homomorphic-encryption contexts, one per (backend, preset): they are costly to build
 * (primes, NTT tables) and thread-safe, so the gateway, the aggregators and the coordinator of one
 * JVM share them. A context holds parameters only, never a key.
 */
public final class HeContexts {
    private static final Map<String, HeContext> CONTEXTS = new ConcurrentHashMap<>();

    private HeContexts() {}

    /**
     * The context of {@code backend} with parameter preset {@code preset}.
     *
     * @throws IllegalArgumentException for an unknown or unavailable backend or preset
     */
    public static HeContext of(String backend, String preset) {
        return CONTEXTS.computeIfAbsent(
                backend + "/" + preset, k -> HeBackends.context(backend, preset));
    }
}
