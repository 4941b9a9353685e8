package org.metisfl.crypto;

import java.util.List;

/**
 * A homomorphic-encryption backend, found through {@link java.util.ServiceLoader} (see {@link
 * HeBackends}). A backend whose native library is missing stays listed but reports {@link
 * #isAvailable()} false and the reason in {@link #unavailabilityCause()}, as netty's {@code Epoll}
 * does.
 *
 * <p>Usage:
 *
 * <pre>{@code
 * HeContext he = HeBackends.get("metisfl-ckks").create(CkksParameters.preset("n13-q120"));
 * KeyPair keys = he.generateKeys();
 * List<Ciphertext> cts = he.encrypt(keys.secretKey(), update);      // learner
 * Ciphertext sum = he.add(he.multiply(a, 0.25), he.multiply(b, 0.75)); // controller, no key
 * double[] model = he.decrypt(keys.secretKey(), List.of(sum));       // learner
 * }</pre>
 */
public interface HeBackend {

    /** The id written into every ciphertext and key ("metisfl-ckks", "openfhe-ckks"). */
    String id();

    boolean isAvailable();

    /** Why {@link #isAvailable()} is false; null when it is true. */
    Throwable unavailabilityCause();

    /** The names of the presets this backend supports ({@link CkksParameters#preset(String)}). */
    List<String> presets();

    /**
     * A context bound to these parameters. Parameters were already checked against the
     * HomomorphicEncryption.org limits when they were built; a backend may refuse more.
     *
     * @throws IllegalStateException if the backend is not available
     */
    HeContext create(CkksParameters parameters);
}
