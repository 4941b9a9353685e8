package org.metisfl.flink.connector.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.Payload;

class ModelAssemblyTest {

    private static float[] values(int from, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (from + i) * 0.5f - 7;
        }
        return v;
    }

    private static float[] decode(EncodedModel m) {
        ByteBuffer all = ByteBuffer.allocate((int) m.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (ByteString c : m.chunks()) {
            all.put(c.asReadOnlyByteBuffer());
        }
        all.flip();
        float[] out = new float[all.remaining() / Float.BYTES];
        all.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void encodesEachShardOnceAsLittleEndianChunksOfAtMostTheChunkSize() {
        ModelAssembly assembly = new ModelAssembly(16);
        assembly.add(Directive.modelShard(3, 0, 0, values(0, 4)));
        assembly.add(Directive.modelShard(3, 1, 4, values(4, 10)));
        assembly.add(Directive.modelShard(3, 2, 14, values(14, 1)));

        EncodedModel m = assembly.take(3, 15);

        assertThat(m).isNotNull();
        assertThat(m.version()).isEqualTo(3);
        assertThat(m.bytes()).isEqualTo(60);
        // shard 0 fits one chunk, shard 1 (40 bytes) is cut into 16 + 16 + 8, shard 2 is one
        assertThat(m.chunks()).extracting(ByteString::size).containsExactly(16, 16, 16, 8, 4);
        assertThat(decode(m)).containsExactly(values(0, 15));
        assertThat(
                        m.chunks()
                                .get(0)
                                .asReadOnlyByteBuffer()
                                .order(ByteOrder.LITTLE_ENDIAN)
                                .getFloat())
                .isEqualTo(-7f);
    }

    @Test
    void aModelIsTakenOnlyByThePublishOfItsVersionAndSize() {
        ModelAssembly assembly = new ModelAssembly(1024);
        assembly.add(Directive.modelShard(1, 0, 0, values(0, 8)));
        assertThat(assembly.take(2, 8)).isNull();
        // taking starts over: nothing is left for a later publish
        assembly.add(Directive.modelShard(1, 0, 0, values(0, 8)));
        assertThat(assembly.take(1, 9)).isNull();
        assertThat(assembly.take(1, 8)).isNull();
        assertThat(assembly.take(-1, 0)).isNull();
    }

    @Test
    void aNewVersionStartsOverAndAGapDropsTheModel() {
        ModelAssembly assembly = new ModelAssembly(1024);
        assembly.add(Directive.modelShard(1, 0, 0, values(0, 8)));
        assembly.add(Directive.modelShard(2, 0, 0, values(100, 8)));
        assembly.add(Directive.modelShard(2, 1, 8, values(108, 8)));
        EncodedModel m = assembly.take(2, 16);
        assertThat(decode(m)).containsExactly(values(100, 16));

        assembly.add(Directive.modelShard(3, 0, 0, values(0, 8)));
        assembly.add(Directive.modelShard(3, 2, 16, values(16, 8)));
        assertThat(assembly.take(3, 24)).isNull();
        assertThat(assembly.take(3, 8)).isNull();
    }

    @Test
    void sendsCiphertextShardsAsTheyAreWithTheirByteLengths() {
        ModelAssembly assembly = new ModelAssembly(16);
        byte[] a = new byte[37];
        byte[] b = new byte[5];
        for (int i = 0; i < a.length; i++) {
            a[i] = (byte) i;
        }
        b[4] = 99;
        assembly.add(Directive.modelShard(2, 0, 0, Payload.ciphertext("he", "ab12", 8, a)));
        assembly.add(Directive.modelShard(2, 1, 8, Payload.ciphertext("he", "ab12", 3, b)));

        EncodedModel m = assembly.take(2, 11);

        assertThat(m).isNotNull();
        assertThat(m.bytes()).isEqualTo(42);
        assertThat(m.chunks()).extracting(ByteString::size).containsExactly(16, 16, 5, 5);
        ByteString all = ByteString.EMPTY;
        for (ByteString c : m.chunks()) {
            all = all.concat(c);
        }
        assertThat(all.substring(0, 37).toByteArray()).isEqualTo(a);
        assertThat(all.substring(37).toByteArray()).isEqualTo(b);
        assertThat(m.encryption().getBackendId()).isEqualTo("he");
        assertThat(m.encryption().getParameterHash()).isEqualTo("ab12");
        assertThat(m.encryption().getShardBytesList()).containsExactly(37L, 5L);
    }

    @Test
    void aModelMixingPlaintextAndCiphertextShardsIsDropped() {
        ModelAssembly assembly = new ModelAssembly(1024);
        assembly.add(Directive.modelShard(1, 0, 0, Payload.ciphertext("he", "ab", 8, new byte[9])));
        assembly.add(Directive.modelShard(1, 1, 8, values(0, 4)));
        assertThat(assembly.take(1, 12)).isNull();
    }
}
