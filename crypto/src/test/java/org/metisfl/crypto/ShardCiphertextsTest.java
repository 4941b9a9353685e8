package org.metisfl.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShardCiphertextsTest {

    @Test
    void roundTripsCiphertextsAndTheWeightSum() {
        ShardCiphertexts s =
                new ShardCiphertexts(762.5, List.of(new byte[] {1, 2, 3}, new byte[0]));
        byte[] bytes = s.encode();
        // magic, version, weight sum, count, (length, bytes) x 2
        assertThat(bytes).hasSize(4 + 1 + 8 + 4 + 4 + 3 + 4);
        assertThat(ByteBuffer.wrap(bytes).getInt()).isEqualTo(0x4D464353);
        ShardCiphertexts back = ShardCiphertexts.decode(bytes);
        assertThat(back.weightSum()).isEqualTo(762.5);
        assertThat(back.count()).isEqualTo(2);
        assertThat(back.ciphertexts().get(0)).containsExactly(1, 2, 3);
        assertThat(back.ciphertexts().get(1)).isEmpty();
    }

    @Test
    void refusesTruncatedTrailingAndForeignBytes() {
        byte[] bytes = ShardCiphertexts.update(List.of(new byte[] {9, 9})).encode();
        assertThatThrownBy(() -> ShardCiphertexts.decode(Arrays.copyOf(bytes, bytes.length - 1)))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("claims 2 bytes");
        assertThatThrownBy(() -> ShardCiphertexts.decode(Arrays.copyOf(bytes, 10)))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> ShardCiphertexts.decode(Arrays.copyOf(bytes, bytes.length + 1)))
                .hasMessageContaining("1 trailing bytes");
        byte[] foreign = bytes.clone();
        foreign[0] = 'X';
        assertThatThrownBy(() -> ShardCiphertexts.decode(foreign)).hasMessageContaining("magic");
        byte[] negative = bytes.clone();
        ByteBuffer.wrap(negative).putInt(13, -1);
        assertThatThrownBy(() -> ShardCiphertexts.decode(negative))
                .hasMessageContaining("impossible ciphertext count -1");
    }
}
