package org.metisfl.crypto;

/**
 * A running weighted sum Σ wᵢ · ctᵢ of fresh ciphertexts (one position of a shard), kept without
 * any key: what a secure-aggregation rule accumulates per shard and round. Mutable and not
 * thread-safe; {@link #merge} adds another partial sum of the same context, so partial sums can be
 * folded in any grouping (it is associative and commutative up to the order of floating-point
 * decoding, which is exact here: the sum is modular integer arithmetic).
 *
 * <pre>{@code
 * CiphertextSum sum = he.newSum();
 * sum.add(he.deserializeCiphertext(bytes), examples);   // per update
 * byte[] global = he.serialize(sum.result());           // when the round closes
 * }</pre>
 */
public interface CiphertextSum {

    /**
     * {@code this += w · c} for a fresh (never weighted) ciphertext under the same key, parameters
     * and value count as the terms so far.
     *
     * @throws IncompatibleCiphertextException otherwise
     */
    void add(Ciphertext c, double w);

    /** {@code this += other}; {@code other} is left unchanged. */
    void merge(CiphertextSum other);

    /**
     * {@code this += partial}, where {@code partial} is the {@link #result()} of a sum of {@code
     * terms} terms (for instance restored from a checkpoint's bytes): how a sum resumes.
     *
     * @throws IncompatibleCiphertextException if it is not such a sum (a fresh ciphertext, another
     *     key or value count)
     */
    void merge(Ciphertext partial, int terms);

    /** How many terms were added, merged ones included. */
    int terms();

    /**
     * The sum as a ciphertext (a snapshot; the sum can go on).
     *
     * @throws IllegalStateException if no term was added
     */
    Ciphertext result();
}
