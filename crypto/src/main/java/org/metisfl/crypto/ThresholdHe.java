package org.metisfl.crypto;

import java.util.List;

/**
 * Threshold (multiparty) CKKS, n-out-of-n, as in Asharov et al. (Eurocrypt 2012) and Mouchet et al.
 * ("Multiparty Homomorphic Encryption from Ring-Learning-With-Errors", PoPETs 2021): the secret key
 * is the sum s = Σ s_i of the members' secret shares and is never assembled anywhere.
 *
 * <ol>
 *   <li>Someone (the controller) draws a public {@link #newCommonSeed() common seed}; it expands to
 *       the common uniform polynomial a.
 *   <li>Each member {@link #generateKeyShare generates} s_i (uniform ternary) and publishes b_i =
 *       -a·s_i + e_i.
 *   <li>{@link #combineKeyShares} sums the shares into the joint public key b = Σ b_i = -a·s + Σ
 *       e_i; learners encrypt with it ({@link HeContext#encrypt(PublicKey, float[], int, int)}).
 *   <li>For each ciphertext (c0, c1) to decrypt, every member returns d_i = c1·s_i + e_i ({@link
 *       #partialDecrypt}), where e_i is smudging noise that hides the ciphertext's own noise (and
 *       with it s_i); {@link #combine} computes c0 + Σ d_i = Δ·m + e and decodes.
 * </ol>
 *
 * <p>Every member must answer: with one partial decryption missing the result is uniformly random
 * (n-out-of-n; see docs/explanation/secure-aggregation.md for what dropouts mean). The t-out-of-n
 * methods re-share the additive shares with Shamir's scheme over each RNS prime, so that any t
 * members decrypt.
 *
 * <p>Smudging: each member's e_i has standard deviation {@link #smudgingStdDev} = 2^45 · (scale/Δ)
 * · max(1, W) per coefficient, where W = Σ|w_j| is the weight sum of the weighted sum the
 * ciphertext holds (1 for a fresh ciphertext); the ciphertext's own noise grows with the weights,
 * and the smudging must stay far above it. See the crypto README for the width and its cost in
 * precision.
 */
public interface ThresholdHe {

    /** A fresh public seed for the common polynomial a (from the context's secure randomness). */
    byte[] newCommonSeed();

    /** A member's fresh key share for the committee whose common polynomial comes from the seed. */
    KeyShare generateKeyShare(byte[] commonSeed);

    /**
     * The committee of these public shares and its joint public key.
     *
     * @throws IllegalArgumentException for no shares, duplicates, shares of different common seeds
     * @throws IncompatibleCiphertextException for shares of another backend or parameters
     */
    Committee combineKeyShares(List<PublicKeyShare> shares);

    /**
     * A member's partial decryption of a ciphertext under its committee's joint key.
     *
     * @param weightSum Σ|w_j| of the weights of the sum the ciphertext holds, 1 for a fresh
     *     ciphertext (values below 1 count as 1): the smudging noise scales with it
     */
    PartialDecryption partialDecrypt(SecretKeyShare share, Ciphertext c, double weightSum);

    /**
     * Combines the committee's partial decryptions of {@code c} and decodes the values.
     *
     * @throws IllegalArgumentException naming the missing members when a partial decryption is
     *     missing (every member must answer), or for duplicates and strangers
     * @throws IncompatibleCiphertextException for a ciphertext not under the committee's joint key,
     *     or partial decryptions of another ciphertext, backend or parameters
     */
    double[] combine(Committee committee, Ciphertext c, List<PartialDecryption> parts);

    /**
     * The standard deviation of one member's smudging noise for this ciphertext (per coefficient).
     */
    double smudgingStdDev(Ciphertext c, double weightSum);

    // ---------------------------------------------------------------- t-out-of-n

    /**
     * t-out-of-n setup, step 1 (every member): Shamir dealings of the member's additive share s_i,
     * f_i(j) for a random polynomial f_i of degree t − 1 with f_i(0) = s_i, one per committee
     * member j in {@link Committee#memberIds()} order (the member's own included). Each must reach
     * its recipient confidentially: t dealings of one member reveal its share.
     *
     * @throws IllegalArgumentException if t is not in [1, N] or the share is not a member's
     */
    List<byte[]> dealShamirShares(SecretKeyShare share, Committee committee, int threshold);

    /**
     * t-out-of-n setup, step 2 (every member): the member's Shamir share s̃_j = Σ_i f_i(j) from the
     * dealings of all N members addressed to it (any order).
     *
     * @throws IllegalArgumentException for a missing, duplicate or foreign dealing, one addressed
     *     to another member or made for another threshold or committee
     */
    ShamirKeyShare combineDealings(
            SecretKeyShare own, Committee committee, int threshold, List<byte[]> dealings);

    /**
     * A member's partial decryption for the set of members that answer (at least t, the member
     * among them): c1·λ_j·s̃_j + smudging, with λ_j the Lagrange coefficient of the set. It is
     * bound to the set: partial decryptions for different sets do not combine.
     */
    PartialDecryption partialDecrypt(
            ShamirKeyShare share,
            Committee committee,
            Ciphertext c,
            double weightSum,
            List<String> answering);

    /**
     * Combines the partial decryptions of a set of at least t members, all made for that set.
     *
     * @throws IllegalArgumentException for fewer than t, duplicates, strangers, or partial
     *     decryptions made for another set of members
     */
    double[] combine(
            Committee committee, int threshold, Ciphertext c, List<PartialDecryption> parts);

    byte[] serialize(ShamirKeyShare share);

    /** As {@link #deserializePublicKeyShare}, for a Shamir key share. */
    ShamirKeyShare deserializeShamirKeyShare(byte[] bytes);

    // ---------------------------------------------------------------- serialization

    byte[] serialize(PublicKeyShare share);

    /**
     * @throws MalformedCiphertextException for bytes that are no valid public key share
     * @throws IncompatibleCiphertextException for another backend or parameter hash
     */
    PublicKeyShare deserializePublicKeyShare(byte[] bytes);

    byte[] serialize(SecretKeyShare share);

    /** As {@link #deserializePublicKeyShare}, for a secret key share. */
    SecretKeyShare deserializeSecretKeyShare(byte[] bytes);

    byte[] serialize(PartialDecryption part);

    /** As {@link #deserializePublicKeyShare}, for a partial decryption. */
    PartialDecryption deserializePartialDecryption(byte[] bytes);
}
