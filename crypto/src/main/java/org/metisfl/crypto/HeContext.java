package org.metisfl.crypto;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One backend bound to one parameter set: key generation, encoding and encryption of float vectors,
 * the two homomorphic operations aggregation needs (addition, multiplication by a plaintext
 * scalar), decryption and serialization. Thread-safe.
 *
 * <p>The controller needs only {@link #add}, {@link #multiply}, {@link #serialize(Ciphertext)} and
 * {@link #deserializeCiphertext}: none of them takes a key.
 */
public interface HeContext {

    String backendId();

    CkksParameters parameters();

    /** SHA-256 of the backend's canonical description of its resolved parameters (a copy). */
    byte[] parameterHash();

    /** How many real values one ciphertext carries. */
    int valuesPerCiphertext();

    /**
     * Whether {@link #encrypt(SecretKey, float[], int, int)} yields compact ciphertexts (the
     * uniform polynomial replaced by a seed: about half the size of a public-key ciphertext).
     */
    boolean compactSymmetricCiphertexts();

    KeyPair generateKeys();

    /** Encodes and encrypts {@code values[from, to)} (at most {@link #valuesPerCiphertext()}). */
    Ciphertext encrypt(PublicKey key, float[] values, int from, int to);

    /** As {@link #encrypt(PublicKey, float[], int, int)}, with the secret key (learners only). */
    Ciphertext encrypt(SecretKey key, float[] values, int from, int to);

    /** {@code a + b}: both under the same key, parameters and scale, with the same value count. */
    Ciphertext add(Ciphertext a, Ciphertext b);

    /**
     * {@code c * w} for a plaintext weight, encoded as round(w · 2^weightScaleBits); the result has
     * the scale of c times 2^weightScaleBits, so only ciphertexts weighted the same number of times
     * can be added.
     */
    Ciphertext multiply(Ciphertext c, double w);

    /**
     * Decrypts and decodes {@link Ciphertext#valueCount()} values.
     *
     * @throws IncompatibleCiphertextException for a ciphertext under another key or parameters
     */
    double[] decrypt(SecretKey key, Ciphertext c);

    byte[] serialize(Ciphertext c);

    /**
     * @throws MalformedCiphertextException for bytes that are no valid ciphertext
     * @throws IncompatibleCiphertextException for another backend or parameter hash
     */
    Ciphertext deserializeCiphertext(byte[] bytes);

    byte[] serialize(PublicKey key);

    PublicKey deserializePublicKey(byte[] bytes);

    byte[] serialize(SecretKey key);

    SecretKey deserializeSecretKey(byte[] bytes);

    /**
     * The threshold (multiparty) operations of this backend, or empty when it has none: key shares
     * of a committee, a joint public key, partial decryptions and their combination.
     */
    default Optional<ThresholdHe> threshold() {
        return Optional.empty();
    }

    /**
     * A new, empty weighted sum. The default composes {@link #multiply} and {@link #add}; a backend
     * may accumulate in place.
     */
    default CiphertextSum newSum() {
        return new CiphertextSum() {
            private Ciphertext acc;
            private int terms;

            @Override
            public void add(Ciphertext c, double w) {
                Ciphertext t = multiply(c, w);
                acc = acc == null ? t : HeContext.this.add(acc, t);
                terms++;
            }

            @Override
            public void merge(CiphertextSum other) {
                if (other.terms() == 0) {
                    return;
                }
                Ciphertext o = other.result();
                acc = acc == null ? o : HeContext.this.add(acc, o);
                terms += other.terms();
            }

            @Override
            public void merge(Ciphertext partial, int partialTerms) {
                acc = acc == null ? partial : HeContext.this.add(acc, partial);
                terms += partialTerms;
            }

            @Override
            public int terms() {
                return terms;
            }

            @Override
            public Ciphertext result() {
                if (acc == null) {
                    throw new IllegalStateException("empty sum: add a term first");
                }
                return acc;
            }
        };
    }

    /** The number of ciphertexts {@code length} values take. */
    default int ciphertextCount(int length) {
        return (length + valuesPerCiphertext() - 1) / valuesPerCiphertext();
    }

    /** Encrypts a whole vector, cut into {@link #ciphertextCount(int)} ciphertexts. */
    default List<Ciphertext> encrypt(PublicKey key, float[] values) {
        List<Ciphertext> out = new ArrayList<>(ciphertextCount(values.length));
        int k = valuesPerCiphertext();
        for (int from = 0; from < values.length; from += k) {
            out.add(encrypt(key, values, from, Math.min(values.length, from + k)));
        }
        return out;
    }

    /** Encrypts a whole vector with the secret key (compact ciphertexts where supported). */
    default List<Ciphertext> encrypt(SecretKey key, float[] values) {
        List<Ciphertext> out = new ArrayList<>(ciphertextCount(values.length));
        int k = valuesPerCiphertext();
        for (int from = 0; from < values.length; from += k) {
            out.add(encrypt(key, values, from, Math.min(values.length, from + k)));
        }
        return out;
    }

    /** Decrypts ciphertexts into one concatenated vector. */
    default double[] decrypt(SecretKey key, List<Ciphertext> cts) {
        int total = 0;
        for (Ciphertext c : cts) {
            total += c.valueCount();
        }
        double[] out = new double[total];
        int pos = 0;
        for (Ciphertext c : cts) {
            double[] part = decrypt(key, c);
            System.arraycopy(part, 0, out, pos, part.length);
            pos += part.length;
        }
        return out;
    }
}
