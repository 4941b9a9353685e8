package org.metisfl.crypto.nativekernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ckks.JavaCkksBackend;
import org.metisfl.crypto.ckks.JavaCkksContext;
import org.metisfl.crypto.ckks.RandomSource;
import org.metisfl.crypto.kernel.JavaRnsKernels;

/** With the same (fixed, test-only) randomness, Java and native kernels give the same bytes. */
class NativeKernelsCiphertextIdentityTest {

    @ParameterizedTest
    @ValueSource(strings = {"n13-q120", "n14-q180"})
    void javaAndNativeKernelsGiveBitIdenticalKeysAndCiphertextsForAFixedSeed(String preset) {
        CkksParameters p = CkksParameters.preset(preset);
        JavaCkksContext java =
                JavaCkksBackend.create(
                        p, JavaRnsKernels.INSTANCE, RandomSource.insecureDeterministic(42));
        JavaCkksContext nat =
                JavaCkksBackend.create(
                        p, NativeRnsKernels.get(), RandomSource.insecureDeterministic(42));
        assertThat(nat.kernelsName()).isEqualTo("native");
        assertThat(java.kernelsName()).isEqualTo("java");

        KeyPair kj = java.generateKeys();
        KeyPair kn = nat.generateKeys();
        assertThat(nat.serialize(kn.publicKey())).isEqualTo(java.serialize(kj.publicKey()));
        assertThat(nat.serialize(kn.secretKey())).isEqualTo(java.serialize(kj.secretKey()));

        float[] x = new float[p.valuesPerCiphertext()];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Ciphertext pj = java.encrypt(kj.publicKey(), x, 0, x.length);
        Ciphertext pn = nat.encrypt(kn.publicKey(), x, 0, x.length);
        assertThat(nat.serialize(pn)).isEqualTo(java.serialize(pj));
        Ciphertext sj = java.encrypt(kj.secretKey(), x, 0, x.length);
        Ciphertext sn = nat.encrypt(kn.secretKey(), x, 0, x.length);
        assertThat(nat.serialize(sn)).isEqualTo(java.serialize(sj));

        Ciphertext aj = java.add(java.multiply(pj, 0.3), java.multiply(sj, 0.7));
        Ciphertext an = nat.add(nat.multiply(pn, 0.3), nat.multiply(sn, 0.7));
        assertThat(nat.serialize(an)).isEqualTo(java.serialize(aj));
        assertThat(nat.decrypt(kn.secretKey(), an))
                .containsExactly(java.decrypt(kj.secretKey(), aj));
    }
}
