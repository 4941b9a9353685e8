package org.metisfl.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link HeBackend} must have. A backend's test extends this class and says
 * which backend and which two (different) parameter sets to use; a backend that is not available on
 * this machine is skipped by {@link #assumeAvailable()} with one line naming the cause.
 *
 * <p>Precision is measured as max |decrypted - exact| / max |exact| over a vector (the relative
 * error in the infinity norm): single values near zero have no meaningful relative error.
 */
public abstract class HeBackendConformanceSuite {

    /** Every decryption must match within this relative error (infinity norm). */
    protected static final double PRECISION = 1e-6;

    /** The backend under test. */
    protected abstract HeBackend backend();

    /** The main parameter set. */
    protected CkksParameters parameters() {
        return CkksParameters.preset(CkksParameters.DEFAULT_PRESET);
    }

    /** A second, different parameter set of the same backend. */
    protected CkksParameters otherParameters() {
        return CkksParameters.preset("n13-q180");
    }

    /** Called before each test: skips (JUnit assumption) when the backend is unavailable. */
    protected void assumeAvailable() {}

    protected HeContext he;
    protected KeyPair keys;

    @BeforeEach
    void setUpContext() {
        assumeAvailable();
        he = backend().create(parameters());
        keys = he.generateKeys();
    }

    protected static float[] randomVector(int length, long seed, double range) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[length];
        for (int i = 0; i < length; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * range);
        }
        return v;
    }

    protected static double relativeError(double[] actual, double[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double err = 0;
        double norm = 0;
        for (int i = 0; i < actual.length; i++) {
            err = Math.max(err, Math.abs(actual[i] - expected[i]));
            norm = Math.max(norm, Math.abs(expected[i]));
        }
        return err / norm;
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    @Test
    void backendIsFoundThroughServiceLoaderAndListsSecurePresets() {
        HeBackend b = HeBackends.get(backend().id());
        assertThat(b.isAvailable()).isTrue();
        assertThat(b.unavailabilityCause()).isNull();
        assertThat(b.presets()).isNotEmpty();
        for (String preset : b.presets()) {
            CkksParameters p = CkksParameters.preset(preset);
            assertThat(p.totalModulusBits())
                    .isLessThanOrEqualTo(HeStandard.maxLogQ(p.ringDimension()));
        }
    }

    @Test
    void decryptsWhatItEncryptsWithThePublicKeyAcrossSeveralCiphertexts() {
        int length = 2 * he.valuesPerCiphertext() + 17;
        float[] x = randomVector(length, 1, 50);
        List<Ciphertext> cts = he.encrypt(keys.publicKey(), x);
        assertThat(cts).hasSize(3);
        assertThat(cts.get(2).valueCount()).isEqualTo(17);
        double[] back = he.decrypt(keys.secretKey(), cts);
        assertThat(relativeError(back, toDouble(x))).isLessThan(PRECISION);
    }

    @Test
    void decryptsWhatItEncryptsWithTheSecretKeyAndCompactCiphertextsAreAboutHalfTheSize() {
        int length = he.valuesPerCiphertext();
        float[] x = randomVector(length, 2, 1);
        Ciphertext sym = he.encrypt(keys.secretKey(), x, 0, length);
        Ciphertext pub = he.encrypt(keys.publicKey(), x, 0, length);
        assertThat(relativeError(he.decrypt(keys.secretKey(), sym), toDouble(x)))
                .isLessThan(PRECISION);
        if (he.compactSymmetricCiphertexts()) {
            double ratio = (double) he.serialize(sym).length / he.serialize(pub).length;
            assertThat(ratio).isBetween(0.45, 0.55);
        }
    }

    @Test
    void additionIsHomomorphicAndMixesPublicAndSecretKeyCiphertexts() {
        int length = 1000;
        float[] x = randomVector(length, 3, 10);
        float[] y = randomVector(length, 4, 10);
        Ciphertext sum =
                he.add(
                        he.encrypt(keys.publicKey(), x, 0, length),
                        he.encrypt(keys.secretKey(), y, 0, length));
        double[] expected = new double[length];
        for (int i = 0; i < length; i++) {
            expected[i] = (double) x[i] + y[i];
        }
        assertThat(relativeError(he.decrypt(keys.secretKey(), sum), expected))
                .isLessThan(PRECISION);
    }

    @Test
    void multiplicationByAPlaintextScalarIsHomomorphic() {
        int length = 777;
        float[] x = randomVector(length, 5, 3);
        Ciphertext c = he.encrypt(keys.publicKey(), x, 0, length);
        for (double w : new double[] {0.37, -2.5, 1000, 1.0 / 3}) {
            double[] expected = new double[length];
            for (int i = 0; i < length; i++) {
                expected[i] = w * x[i];
            }
            double[] got = he.decrypt(keys.secretKey(), he.multiply(c, w));
            assertThat(relativeError(got, expected)).as("w=%s", w).isLessThan(PRECISION);
        }
        double[] zero = he.decrypt(keys.secretKey(), he.multiply(c, 0));
        for (double v : zero) {
            assertThat(v).isCloseTo(0, within(1e-6));
        }
    }

    @Test
    void serializationRoundTripsCiphertextsAndKeys() {
        float[] x = randomVector(300, 6, 1);
        for (Ciphertext c :
                List.of(
                        he.encrypt(keys.publicKey(), x, 0, 300),
                        he.encrypt(keys.secretKey(), x, 0, 300),
                        he.multiply(he.encrypt(keys.secretKey(), x, 0, 300), 0.5))) {
            byte[] bytes = he.serialize(c);
            HeEnvelope env = HeEnvelope.of(bytes);
            assertThat(env.kind()).isEqualTo(HeEnvelope.Kind.CIPHERTEXT);
            assertThat(env.backendId()).isEqualTo(backend().id());
            assertThat(env.parameterHash()).isEqualTo(he.parameterHash());
            assertThat(env.keyId()).isEqualTo(keys.publicKey().keyId());
            Ciphertext back = he.deserializeCiphertext(bytes);
            assertThat(he.serialize(back)).isEqualTo(bytes);
            assertThat(he.decrypt(keys.secretKey(), back))
                    .containsExactly(he.decrypt(keys.secretKey(), c));
        }
        PublicKey pk = he.deserializePublicKey(he.serialize(keys.publicKey()));
        SecretKey sk = he.deserializeSecretKey(he.serialize(keys.secretKey()));
        assertThat(pk.keyId()).isEqualTo(keys.publicKey().keyId());
        double[] back = he.decrypt(sk, he.encrypt(pk, x, 0, 300));
        assertThat(relativeError(back, toDouble(x))).isLessThan(PRECISION);
    }

    @Test
    void refusesToDecryptWithTheWrongKeyAndToAddAcrossKeys() {
        KeyPair other = he.generateKeys();
        Ciphertext c = he.encrypt(keys.publicKey(), randomVector(10, 7, 1), 0, 10);
        assertThatThrownBy(() -> he.decrypt(other.secretKey(), c))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("wrong key");
        Ciphertext d = he.encrypt(other.publicKey(), randomVector(10, 7, 1), 0, 10);
        assertThatThrownBy(() -> he.add(c, d))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("different keys");
    }

    @Test
    void refusesCiphertextsAndKeysOfOtherParameters() {
        HeContext other = backend().create(otherParameters());
        assertThat(other.parameterHash()).isNotEqualTo(he.parameterHash());
        assertThat(backend().create(parameters()).parameterHash()).isEqualTo(he.parameterHash());
        KeyPair otherKeys = other.generateKeys();
        Ciphertext foreign = other.encrypt(otherKeys.publicKey(), randomVector(10, 8, 1), 0, 10);
        byte[] bytes = other.serialize(foreign);
        assertThatThrownBy(() -> he.deserializeCiphertext(bytes))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("wrong parameters");
        assertThatThrownBy(() -> he.decrypt(keys.secretKey(), foreign))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("wrong parameters");
        Ciphertext mine = he.encrypt(keys.publicKey(), randomVector(10, 8, 1), 0, 10);
        assertThatThrownBy(() -> he.add(mine, foreign))
                .isInstanceOf(IncompatibleCiphertextException.class);
        assertThatThrownBy(() -> he.encrypt(otherKeys.publicKey(), new float[1], 0, 1))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("wrong parameters");
    }

    @Test
    void refusesAForeignBackendIdAndMalformedBytes() {
        byte[] bytes = he.serialize(he.encrypt(keys.publicKey(), randomVector(10, 9, 1), 0, 10));
        byte[] renamed = bytes.clone();
        renamed[7] ^= 0x20; // a letter of the backend id changes case
        assertThatThrownBy(() -> he.deserializeCiphertext(renamed))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("backend");
        assertThatThrownBy(() -> he.deserializeCiphertext(Arrays.copyOf(bytes, bytes.length - 1)))
                .isInstanceOf(MalformedCiphertextException.class);
        assertThatThrownBy(() -> he.deserializeCiphertext(Arrays.copyOf(bytes, bytes.length + 1)))
                .isInstanceOf(MalformedCiphertextException.class);
        assertThatThrownBy(() -> he.deserializeCiphertext(new byte[] {1, 2, 3}))
                .isInstanceOf(MalformedCiphertextException.class);
        byte[] garbage = new byte[bytes.length];
        new SplittableRandom(1).nextBytes(garbage);
        assertThatThrownBy(() -> he.deserializeCiphertext(garbage))
                .isInstanceOf(MalformedCiphertextException.class);
    }

    @Test
    void refusesParametersAboveTheSecurityStandardWithAMessage() {
        assertThatThrownBy(
                        () ->
                                CkksParameters.builder()
                                        .ringDimension(8192)
                                        .primeBits(60, 60, 60, 50)
                                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("insecure")
                .hasMessageContaining("218");
        assertThatThrownBy(
                        () ->
                                CkksParameters.builder()
                                        .ringDimension(4096)
                                        .primeBits(60, 60)
                                        .build())
                .hasMessageContaining("109");
        assertThatThrownBy(() -> CkksParameters.builder().ringDimension(512).build())
                .hasMessageContaining("security table");
    }

    @Test
    void refusesNonFiniteValuesAndWeights() {
        Ciphertext c = he.encrypt(keys.publicKey(), new float[] {1}, 0, 1);
        assertThatThrownBy(() -> he.encrypt(keys.publicKey(), new float[] {1, Float.NaN}, 0, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("finite");
        assertThatThrownBy(() -> he.multiply(c, Double.POSITIVE_INFINITY))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void weightedSumAccumulatesAndMergesPartialSumsInAnyGrouping() {
        int length = 500;
        CiphertextSum all = he.newSum();
        CiphertextSum first = he.newSum();
        CiphertextSum rest = he.newSum();
        double[] exact = new double[length];
        for (int v = 0; v < 20; v++) {
            float[] x = randomVector(length, 50 + v, 5);
            double w = 1 + v;
            for (int i = 0; i < length; i++) {
                exact[i] += w * x[i];
            }
            Ciphertext c =
                    v % 3 == 0
                            ? he.encrypt(keys.publicKey(), x, 0, length)
                            : he.encrypt(keys.secretKey(), x, 0, length);
            all.add(c, w);
            (v < 8 ? first : rest).add(c, w);
        }
        // a sum resumes from its serialized result (a checkpoint), then takes the other part
        CiphertextSum restored = he.newSum();
        restored.merge(he.deserializeCiphertext(he.serialize(first.result())), first.terms());
        restored.merge(rest);
        assertThat(restored.terms()).isEqualTo(20);
        assertThat(relativeError(he.decrypt(keys.secretKey(), restored.result()), exact))
                .isLessThan(PRECISION);
        first.merge(rest);
        assertThat(first.terms()).isEqualTo(20);
        assertThat(all.terms()).isEqualTo(20);
        double[] a = he.decrypt(keys.secretKey(), all.result());
        double[] b =
                he.decrypt(
                        keys.secretKey(), he.deserializeCiphertext(he.serialize(first.result())));
        assertThat(relativeError(a, exact)).isLessThan(PRECISION);
        assertThat(relativeError(b, exact)).isLessThan(PRECISION);
        // the sum goes on after a snapshot
        all.add(he.encrypt(keys.secretKey(), new float[length], 0, length), 1);
        assertThat(relativeError(he.decrypt(keys.secretKey(), all.result()), exact))
                .isLessThan(PRECISION);
        assertThatThrownBy(() -> he.newSum().result()).isInstanceOf(IllegalStateException.class);
        Ciphertext fresh = he.encrypt(keys.secretKey(), new float[length], 0, length);
        assertThatThrownBy(() -> he.newSum().merge(fresh, 1))
                .isInstanceOf(IncompatibleCiphertextException.class);
        KeyPair other = he.generateKeys();
        assertThatThrownBy(
                        () ->
                                all.add(
                                        he.encrypt(other.publicKey(), new float[length], 0, length),
                                        1))
                .isInstanceOf(IncompatibleCiphertextException.class);
    }

    /**
     * The weighted sum of 1,000 encrypted vectors (each spanning two ciphertexts, weights in [0.1,
     * 10], values in [-1, 1]) decrypts to the plaintext weighted sum within 1e-6 relative error.
     */
    @Test
    void weightedSumOfAThousandEncryptedVectorsMatchesThePlaintextSum() {
        int length = he.valuesPerCiphertext() + 100;
        int vectors = 1000;
        SplittableRandom r = new SplittableRandom(10);
        double[] exact = new double[length];
        Ciphertext[] acc = new Ciphertext[1];
        CiphertextSum second = he.newSum();
        for (int v = 0; v < vectors; v++) {
            float[] x = randomVector(length, 1000 + v, 1);
            double w = 0.1 + r.nextDouble() * 9.9;
            for (int i = 0; i < length; i++) {
                exact[i] += w * x[i];
            }
            List<Ciphertext> cts =
                    v % 2 == 0 ? he.encrypt(keys.publicKey(), x) : he.encrypt(keys.secretKey(), x);
            // the first ciphertext through multiply and add, the second through a CiphertextSum
            Ciphertext weighted = he.multiply(cts.get(0), w);
            acc[0] = acc[0] == null ? weighted : he.add(acc[0], weighted);
            second.add(cts.get(1), w);
        }
        double[] got = he.decrypt(keys.secretKey(), List.of(acc[0], second.result()));
        assertThat(relativeError(got, exact)).isLessThan(PRECISION);
    }
}
