package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCodecTest {

    @Test
    void valuesAreLittleEndianFloat32() {
        float[] v = {1.5f, -2f, Float.NaN, 3e-7f};
        ByteString bytes = ModelCodec.toBytes(v);
        assertThat(bytes.size()).isEqualTo(16);
        assertThat(bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getFloat(4))
                .isEqualTo(-2f);
        assertThat(ModelCodec.toFloats(bytes.asReadOnlyByteBuffer())).containsExactly(v);
        assertThat(ModelCodec.toBytes(v, 1, 2)).isEqualTo(bytes.substring(4, 12));
    }

    @Test
    void chunksHoldWholeValuesAndLeaveRoomInTheMessage() {
        assertThat(ModelCodec.chunkBytes(64 << 20)).isEqualTo(1 << 20);
        assertThat(ModelCodec.chunkBytes(1 << 20)).isEqualTo((1 << 20) - 64 * 1024);
        assertThat(ModelCodec.chunkBytes(64 * 1024)).isPositive();
        assertThat(ModelCodec.chunkBytes(100_003) % Float.BYTES).isZero();
        assertThat(ModelCodec.chunkBytes(100_003)).isLessThan(100_003 - 16 * 1024);
    }

    @Test
    void refusesAModelFileLargerThanOneProtobufMessageNamingTheLimit(@TempDir Path dir)
            throws Exception {
        Path file = dir.resolve("huge.model");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(1L << 31); // sparse: no disk space used
        }
        assertThatThrownBy(() -> ModelCodec.readModelFile(file))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("has 2147483648 bytes")
                .hasMessageContaining("at most 2047 MiB");
    }
}
