package org.metisfl.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyBundleTest {
    @TempDir Path dir;

    @Test
    void learnersLoadingTheWrittenBundleDecryptTheWeightedMeanOfTheirEncryptedShards()
            throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);
        KeyBundle a = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE));
        KeyBundle b = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE));
        assertThat(a.keyId()).isEqualTo(b.keyId());
        assertThat(a.preset()).isEqualTo("n13-q120");

        int n = a.valuesPerCiphertext() + 10;
        float[] x = random(1, n);
        float[] y = random(2, n);
        // The controller's part, without any key: Σ w·ct per position, Σ w in the clear.
        HeContext he = HeBackends.context("metisfl-ckks", "n13-q120");
        ShardCiphertexts sx = ShardCiphertexts.decode(a.encryptShard(x));
        ShardCiphertexts sy = ShardCiphertexts.decode(b.encryptShard(y));
        List<byte[]> sums = new ArrayList<>();
        for (int i = 0; i < sx.count(); i++) {
            CiphertextSum s = he.newSum();
            s.add(he.deserializeCiphertext(sx.ciphertexts().get(i)), 3);
            s.add(he.deserializeCiphertext(sy.ciphertexts().get(i)), 1);
            sums.add(he.serialize(s.result()));
        }
        float[] mean = a.decryptShard(new ShardCiphertexts(4, sums).encode());
        for (int j = 0; j < n; j++) {
            assertThat((double) mean[j])
                    .isCloseTo(
                            (3.0 * x[j] + y[j]) / 4, org.assertj.core.api.Assertions.within(1e-6));
        }
    }

    @Test
    void theSecretStaysOwnerOnlyThePublicFileNamesTheFederationKeysAndNothingIsOverwritten()
            throws Exception {
        KeyBundle k = KeyBundle.generate("metisfl-ckks", "n13-q180");
        k.write(dir);
        assertThat(
                        PosixFilePermissions.toString(
                                Files.getPosixFilePermissions(dir.resolve(KeyBundle.SECRET_FILE))))
                .isEqualTo("rw-------");
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(dir.resolve(KeyBundle.PUBLIC_FILE))) {
            p.load(in);
        }
        assertThat(p.getProperty("secure-aggregation.preset")).isEqualTo("n13-q180");
        assertThat(p.getProperty("parameter-hash")).isEqualTo(k.parameterHash());
        assertThat(Files.readString(dir.resolve(KeyBundle.PUBLIC_FILE)))
                .doesNotContain("secret-key");
        assertThatThrownBy(() -> KeyBundle.generate("metisfl-ckks", "n13-q180").write(dir))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThat(KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE)).keyId()).isEqualTo(k.keyId());
    }

    @Test
    void refusesFilesThatAreNoSecretKeyAndShardsOfAnotherKey() throws Exception {
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(dir);
        assertThatThrownBy(() -> KeyBundle.load(dir.resolve(KeyBundle.PUBLIC_FILE)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a MetisFL key file");
        KeyBundle mine = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE));
        KeyBundle other = KeyBundle.generate("metisfl-ckks", "n13-q120");
        ShardCiphertexts theirs = ShardCiphertexts.decode(other.encryptShard(random(3, 10)));
        byte[] aggregate = new ShardCiphertexts(1, theirs.ciphertexts()).encode();
        assertThatThrownBy(() -> mine.decryptShard(aggregate))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }
}
