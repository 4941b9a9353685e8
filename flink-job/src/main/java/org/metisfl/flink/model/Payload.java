package org.metisfl.flink.model;

import java.util.Arrays;
import java.util.Objects;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.PayloadTypeInfo;

/**
 * Model values as the job carries them: dense float32 values, or opaque ciphertext bytes that
 * encode a number of model values under a homomorphic scheme (the job never decrypts them).
 *
 * <p>A dense payload hands out its array without copying ({@link #values()}): the job passes model
 * values along without copies, and whoever changes the array in place (an asynchronous rule mixing
 * into its global model) must own the payload. Serialized in bulk by {@link
 * org.metisfl.flink.model.serialization.PayloadSerializer}.
 *
 * <pre>{@code
 * Payload p = Payload.dense(new float[] {1f, 2f});
 * Payload c = Payload.ciphertext("ckks", "3f2a...", 8192, bytes);
 * }</pre>
 */
@TypeInfo(PayloadTypeInfo.Factory.class)
public final class Payload {

    /** What the bytes of a payload are. */
    public enum Kind {
        /** Plaintext float32 values. */
        DENSE,
        /** Ciphertexts of a homomorphic scheme: the job may only add and scale them. */
        CIPHERTEXT
    }

    private final Kind kind;
    private final float[] values;
    private final byte[] ciphertext;
    private final String scheme;
    private final String parameterHash;
    private final int encodedValues;

    private Payload(
            Kind kind,
            float[] values,
            byte[] ciphertext,
            String scheme,
            String parameterHash,
            int encodedValues) {
        this.kind = kind;
        this.values = values;
        this.ciphertext = ciphertext;
        this.scheme = scheme;
        this.parameterHash = parameterHash;
        this.encodedValues = encodedValues;
    }

    /** Dense float32 values (the array is taken over, not copied). */
    public static Payload dense(float[] values) {
        Objects.requireNonNull(values, "values");
        return new Payload(Kind.DENSE, values, null, null, null, values.length);
    }

    /**
     * Ciphertext bytes (taken over, not copied) of {@code scheme} with parameters whose hash is
     * {@code parameterHash}, encoding {@code encodedValues} model values.
     */
    public static Payload ciphertext(
            String scheme, String parameterHash, int encodedValues, byte[] bytes) {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(parameterHash, "parameterHash");
        Objects.requireNonNull(bytes, "bytes");
        if (encodedValues < 0) {
            throw new IllegalArgumentException(
                    "a ciphertext encodes >= 0 values, got " + encodedValues);
        }
        return new Payload(Kind.CIPHERTEXT, null, bytes, scheme, parameterHash, encodedValues);
    }

    public Kind kind() {
        return kind;
    }

    public boolean isDense() {
        return kind == Kind.DENSE;
    }

    /** How many model values the payload carries (dense) or encodes (ciphertext). */
    public int size() {
        return encodedValues;
    }

    /** The dense values (not a copy); throws for a ciphertext. */
    public float[] values() {
        if (kind != Kind.DENSE) {
            throw new IllegalStateException(
                    "this payload is a "
                            + scheme
                            + " ciphertext, not dense values: the job cannot read its values");
        }
        return values;
    }

    /** The ciphertext bytes (not a copy); throws for dense values. */
    public byte[] ciphertext() {
        requireCiphertext();
        return ciphertext;
    }

    /** The homomorphic scheme's id, e.g. {@code ckks}; throws for dense values. */
    public String scheme() {
        requireCiphertext();
        return scheme;
    }

    /** A hash of the scheme's public parameters; throws for dense values. */
    public String parameterHash() {
        requireCiphertext();
        return parameterHash;
    }

    private void requireCiphertext() {
        if (kind != Kind.CIPHERTEXT) {
            throw new IllegalStateException("this payload holds dense values, not ciphertexts");
        }
    }

    /** A deep copy (for state backends that keep the objects they are given). */
    public Payload copy() {
        return kind == Kind.DENSE
                ? dense(values.clone())
                : ciphertext(scheme, parameterHash, encodedValues, ciphertext.clone());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Payload p
                && p.kind == kind
                && p.encodedValues == encodedValues
                && Arrays.equals(p.values, values)
                && Arrays.equals(p.ciphertext, ciphertext)
                && Objects.equals(p.scheme, scheme)
                && Objects.equals(p.parameterHash, parameterHash);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                kind, encodedValues, Arrays.hashCode(values), Arrays.hashCode(ciphertext), scheme);
    }

    @Override
    public String toString() {
        return kind == Kind.DENSE
                ? "Payload{dense, " + encodedValues + " values}"
                : "Payload{"
                        + scheme
                        + " ciphertext, "
                        + ciphertext.length
                        + " bytes, "
                        + encodedValues
                        + " values}";
    }
}
