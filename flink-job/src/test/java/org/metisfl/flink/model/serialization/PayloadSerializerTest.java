package org.metisfl.flink.model.serialization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;
import org.apache.flink.api.common.typeutils.SerializerTestBase;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.Payload;

/**
 * {@link PayloadSerializer} under Flink's serializer contract ({@link SerializerTestBase}: copies,
 * sequences, snapshot and restore, duplicates on several threads), its copy between raw views into
 * a target that has to grow, and its scratch buffer kept across a failing read or write.
 */
class PayloadSerializerTest extends SerializerTestBase<Payload> {
    private static final PayloadSerializer S = PayloadSerializer.INSTANCE;

    @Override
    protected TypeSerializer<Payload> createSerializer() {
        return S;
    }

    @Override
    protected int getLength() {
        return -1;
    }

    @Override
    protected Class<Payload> getTypeClass() {
        return Payload.class;
    }

    @Override
    protected Payload[] getTestData() {
        byte[] c = new byte[3 * PayloadSerializer.SCRATCH_FLOATS * Float.BYTES + 5];
        for (int i = 0; i < c.length; i++) {
            c[i] = (byte) (i * 13 + 1);
        }
        return new Payload[] {
            Payload.dense(new float[0]),
            Payload.dense(new float[] {1.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, 3e-7f}),
            Payload.dense(values()),
            Payload.ciphertext("ckks", "9f86d0", 8192, new byte[] {1, 2, 3, (byte) 0xff}),
            Payload.ciphertext("ckks", "", 0, c)
        };
    }

    /** 2.5 scratch buffers of distinct values, none of them zero. */
    private static float[] values() {
        int n = 2 * PayloadSerializer.SCRATCH_FLOATS + PayloadSerializer.SCRATCH_FLOATS / 2 + 1;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.25f - 7.125f;
        }
        return v;
    }

    private static byte[] serialized(Payload p) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(64);
        S.serialize(p, out);
        return out.getCopyOfBuffer();
    }

    /** Copies {@code bytes} through the raw views into a target of 16 bytes to begin with. */
    private static byte[] copiedIntoASmallTarget(byte[] bytes) throws IOException {
        DataOutputSerializer target = new DataOutputSerializer(16);
        S.copy(new DataInputDeserializer(bytes), target);
        return target.getCopyOfBuffer();
    }

    @Test
    void copiesDenseValuesLargerThanTheTargetsBufferIntoATargetThatGrows() throws Exception {
        float[] v = values();
        byte[] original = serialized(Payload.dense(v));
        assertThat(original.length).isGreaterThan(16);

        byte[] copy = copiedIntoASmallTarget(original);

        Payload back = S.deserialize(new DataInputDeserializer(copy));
        assertThat(back.isDense()).isTrue();
        assertThat(back.values()).hasSize(v.length);
        for (int i = 0; i < v.length; i++) {
            assertThat(back.values()[i]).as("value %d", i).isEqualTo(v[i]);
        }
        assertThat(copy).isEqualTo(original);
    }

    @Test
    void copiesACiphertextLargerThanTheScratchBufferIntoATargetThatGrows() throws Exception {
        byte[] c = new byte[5 * PayloadSerializer.SCRATCH_FLOATS * Float.BYTES + 3];
        for (int i = 0; i < c.length; i++) {
            c[i] = (byte) (i * 31 + 7);
        }
        Payload p = Payload.ciphertext("ckks", "9f86d0", 8192, c.clone());

        byte[] copy = copiedIntoASmallTarget(serialized(p));

        Payload back = S.deserialize(new DataInputDeserializer(copy));
        assertThat(back.scheme()).isEqualTo("ckks");
        assertThat(back.parameterHash()).isEqualTo("9f86d0");
        assertThat(back.size()).isEqualTo(8192);
        assertThat(back.ciphertext()).containsExactly(c);
    }

    @Test
    void aCopyOfATruncatedRecordFailsInsteadOfPaddingIt() throws Exception {
        byte[] original = serialized(Payload.dense(values()));
        byte[] cut = Arrays.copyOf(original, original.length - 3);
        assertThatThrownBy(() -> copiedIntoASmallTarget(cut)).isInstanceOf(EOFException.class);
    }

    @Test
    void aCopyOfANegativeLengthSaysTheInputIsCorrupt() {
        byte[] corrupt = {0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xfe};
        assertThatThrownBy(() -> copiedIntoASmallTarget(corrupt))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("negative payload length -2");
    }

    /** A target whose bulk writes fail, as a full disk or a closed stream would. */
    private static final class FailingTarget extends DataOutputSerializer {
        FailingTarget() {
            super(64);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            throw new IOException("disk full");
        }
    }

    @Test
    void aFailingWriteOrReadGivesTheScratchBufferBack() throws Exception {
        Payload p = Payload.dense(values());
        byte[] original = serialized(p);
        byte[] scratch = PayloadSerializer.scratchOfThisThread();
        assertThat(scratch).as("the buffer serialize put back").isNotNull();

        assertThatThrownBy(() -> S.serialize(p, new FailingTarget()))
                .hasMessageContaining("disk full");
        assertThat(PayloadSerializer.scratchOfThisThread()).isSameAs(scratch);

        assertThatThrownBy(() -> S.copy(new DataInputDeserializer(original), new FailingTarget()))
                .hasMessageContaining("disk full");
        assertThat(PayloadSerializer.scratchOfThisThread()).isSameAs(scratch);

        byte[] cut = Arrays.copyOf(original, original.length - 3);
        assertThatThrownBy(() -> S.deserialize(new DataInputDeserializer(cut)))
                .isInstanceOf(EOFException.class);
        assertThat(PayloadSerializer.scratchOfThisThread()).isSameAs(scratch);
    }
}
