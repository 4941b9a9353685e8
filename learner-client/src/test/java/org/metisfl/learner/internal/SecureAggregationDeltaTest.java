package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.Encryption;

/** FedBuff over ciphertexts, learner side: the encrypted delta from the model trained on. */
class SecureAggregationDeltaTest {

    @Test
    void aDeltaFederationGetsTheEncryptedDifferenceMarkedAsADelta() {
        KeyBundle keys = KeyBundle.generate("metisfl-ckks", "n13-q120");
        Encryption.Builder federation =
                Encryption.newBuilder()
                        .setBackendId(keys.backendId())
                        .setParameterHash(keys.parameterHash())
                        .setPreset(keys.preset())
                        .setShardSize(keys.valuesPerCiphertext());
        assertThat(SecureAggregation.atJoin(keys, federation.build(), "g").deltas()).isFalse();
        SecureAggregation secure =
                SecureAggregation.atJoin(keys, federation.setDelta(true).build(), "g");
        assertThat(secure.deltas()).isTrue();

        int n = keys.valuesPerCiphertext() + 10; // two shards
        float[] base = new float[n];
        float[] trained = new float[n];
        for (int i = 0; i < n; i++) {
            base[i] = (float) Math.sin(i * 0.01);
            trained[i] = base[i] + (float) (0.5 - (i % 7) * 0.1);
        }
        SecureAggregation.EncryptedModel m =
                secure.encryptDelta(
                        List.of(new NamedTensor("w", new long[] {n}, trained)),
                        List.of(new NamedTensor("w", new long[] {n}, base)));
        assertThat(m.encryption().getDelta()).isTrue();
        assertThat(m.encryption().getShardBytesCount()).isEqualTo(2);
        byte[] data = m.data().toByteArray();
        int off = 0;
        int at = 0;
        for (long len : m.encryption().getShardBytesList()) {
            byte[] shard = java.util.Arrays.copyOfRange(data, off, off + (int) len);
            off += (int) len;
            // An update shard has weight sum 0; decrypt its ciphertexts directly.
            org.metisfl.crypto.ShardCiphertexts s =
                    org.metisfl.crypto.ShardCiphertexts.decode(shard);
            float[] values =
                    keys.decryptShard(
                            new org.metisfl.crypto.ShardCiphertexts(1.0, s.ciphertexts()).encode());
            for (float v : values) {
                assertThat((double) v)
                        .isCloseTo(
                                trained[at] - base[at], org.assertj.core.data.Offset.offset(1e-6));
                at++;
            }
        }
        assertThat(at).isEqualTo(n);
    }
}
