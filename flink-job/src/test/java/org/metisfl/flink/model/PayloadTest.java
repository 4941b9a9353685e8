package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.model.serialization.PayloadSerializer;
import org.metisfl.flink.model.serialization.PayloadTypeInfo;

class PayloadTest {

    private static Payload roundTrip(Payload p) throws Exception {
        TypeSerializer<Payload> s = PayloadSerializer.INSTANCE;
        DataOutputSerializer out = new DataOutputSerializer(64);
        s.serialize(p, out);
        DataOutputSerializer copied = new DataOutputSerializer(64);
        s.copy(new DataInputDeserializer(out.getCopyOfBuffer()), copied);
        assertThat(copied.getCopyOfBuffer()).isEqualTo(out.getCopyOfBuffer());
        DataOutputSerializer snap = new DataOutputSerializer(16);
        TypeSerializerSnapshot.writeVersionedSnapshot(snap, s.snapshotConfiguration());
        TypeSerializerSnapshot<Payload> restored =
                TypeSerializerSnapshot.readVersionedSnapshot(
                        new DataInputDeserializer(snap.getCopyOfBuffer()),
                        PayloadTest.class.getClassLoader());
        assertThat(
                        s.snapshotConfiguration()
                                .resolveSchemaCompatibility(restored)
                                .isCompatibleAsIs())
                .isTrue();
        return restored.restoreSerializer()
                .deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }

    @Test
    void densePayloadsRoundTripBitExactlyAsRawFloats() throws Exception {
        float[] v = {1.5f, -0f, Float.MIN_VALUE, Float.NaN, 3e-7f};
        Payload back = roundTrip(Payload.dense(v));
        assertThat(back.isDense()).isTrue();
        assertThat(back.values()).containsExactly(v);
        assertThat(back.size()).isEqualTo(5);
        // one kind byte, the count, then 4 bytes per value: no per-value overhead
        DataOutputSerializer out = new DataOutputSerializer(64);
        PayloadSerializer.INSTANCE.serialize(Payload.dense(new float[1000]), out);
        assertThat(out.length()).isEqualTo(1 + 4 + 4000);
    }

    @Test
    void payloadsLongerThanTheScratchBufferKeepTheFormatOfOneLittleEndianRun() throws Exception {
        // 2.5 chunks of the serializer's scratch buffer, every value distinct
        int n = 10_241;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.25f - 7f;
        }
        DataOutputSerializer out = new DataOutputSerializer(64);
        PayloadSerializer.INSTANCE.serialize(Payload.dense(v), out);
        // expected bytes built by hand: kind 0, the big-endian count, each float's raw bits LE
        byte[] expected = new byte[1 + 4 + 4 * n];
        expected[0] = 0;
        expected[1] = (byte) (n >>> 24);
        expected[2] = (byte) (n >>> 16);
        expected[3] = (byte) (n >>> 8);
        expected[4] = (byte) n;
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(v[i]);
            for (int b = 0; b < 4; b++) {
                expected[5 + 4 * i + b] = (byte) (bits >>> (8 * b));
            }
        }
        assertThat(out.getCopyOfBuffer()).isEqualTo(expected);
        assertThat(
                        PayloadSerializer.INSTANCE
                                .deserialize(new DataInputDeserializer(expected))
                                .values())
                .containsExactly(v);
        // a truncated record fails instead of returning zeros
        byte[] cut = java.util.Arrays.copyOf(expected, expected.length - 3);
        assertThatThrownBy(
                        () ->
                                PayloadSerializer.INSTANCE.deserialize(
                                        new DataInputDeserializer(cut)))
                .isInstanceOf(java.io.IOException.class);
    }

    @Test
    void ciphertextsRoundTripWithSchemeHashAndValueCount() throws Exception {
        byte[] bytes = {1, 2, 3, (byte) 0xff};
        Payload back = roundTrip(Payload.ciphertext("ckks", "9f86d0", 8192, bytes));
        assertThat(back.kind()).isEqualTo(Payload.Kind.CIPHERTEXT);
        assertThat(back.scheme()).isEqualTo("ckks");
        assertThat(back.parameterHash()).isEqualTo("9f86d0");
        assertThat(back.size()).isEqualTo(8192);
        assertThat(back.ciphertext()).containsExactly(bytes);
        assertThat(back).isEqualTo(Payload.ciphertext("ckks", "9f86d0", 8192, bytes.clone()));
    }

    @Test
    void readingTheWrongKindSaysWhatThePayloadIs() {
        assertThatThrownBy(() -> Payload.ciphertext("ckks", "h", 4, new byte[1]).values())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ckks ciphertext");
        assertThatThrownBy(() -> Payload.dense(new float[1]).scheme())
                .hasMessageContaining("dense values");
    }

    @Test
    void flinkTypesPayloadWithItsOwnTypeInformation() {
        assertThat(TypeInformation.of(Payload.class)).isSameAs(PayloadTypeInfo.INSTANCE);
    }
}
