package org.metisfl.crypto.ckks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.metisfl.crypto.MalformedCiphertextException;

class BitPackingTest {

    @ParameterizedTest
    @CsvSource({"1, 60", "7, 60", "8192, 60", "13, 31", "100, 59", "5, 61"})
    void packsAtTheBitWidthAndUnpacksTheSameValues(int count, int bits) {
        long q = (1L << bits) - 1;
        SplittableRandom r = new SplittableRandom(count * 100L + bits);
        long[] v = new long[count + 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextLong(q);
        }
        int len = BitPacking.packedBytes(count, bits);
        ByteBuffer out = ByteBuffer.allocate(len + 3);
        BitPacking.pack(v, 1, count, bits, out);
        assertThat(out.position()).isEqualTo(len);
        out.put(new byte[] {1, 2, 3});
        out.flip();
        long[] back = new long[count + 2];
        BitPacking.unpack(out, back, 1, count, bits, q);
        assertThat(out.remaining()).isEqualTo(3);
        for (int i = 1; i <= count; i++) {
            assertThat(back[i]).isEqualTo(v[i]);
        }
    }

    @ParameterizedTest
    @CsvSource({"8192, 60"})
    void refusesTruncatedBytesAndResiduesAboveTheModulus(int count, int bits) {
        long[] v = new long[count];
        java.util.Arrays.fill(v, (1L << bits) - 1);
        ByteBuffer out = ByteBuffer.allocate(BitPacking.packedBytes(count, bits));
        BitPacking.pack(v, 0, count, bits, out);
        ByteBuffer cut = ByteBuffer.wrap(out.array(), 0, out.capacity() - 1);
        assertThatThrownBy(
                        () -> BitPacking.unpack(cut, new long[count], 0, count, bits, 1L << bits))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("truncated");
        ByteBuffer whole = ByteBuffer.wrap(out.array());
        assertThatThrownBy(() -> BitPacking.unpack(whole, new long[count], 0, count, bits, 1000))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("not below its prime");
    }
}
