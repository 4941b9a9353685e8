package org.metisfl.learner.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.learner.internal.TensorCodec.EncodedModel;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.TensorSpec;

class TensorCodecTest {

    private static List<NamedTensor> oddModel() {
        float[] kernel = new float[15];
        for (int i = 0; i < kernel.length; i++) {
            kernel[i] = i * 0.25f - 1.5f;
        }
        return List.of(
                new NamedTensor("dense/kernel", new long[] {3, 5}, kernel),
                new NamedTensor(
                        "dense/bias",
                        new long[] {7},
                        new float[] {
                            Float.MIN_VALUE, -0f, 1e30f, Float.NaN, Float.NEGATIVE_INFINITY, 3, 4
                        }),
                new NamedTensor("scalar", new long[] {}, new float[] {42f}),
                new NamedTensor("empty", new long[] {0, 4}, new float[0]));
    }

    @Test
    void roundTripsSeveralTensorsOfOddSizesBitForBit() {
        List<NamedTensor> model = oddModel();

        EncodedModel encoded = TensorCodec.encode(model);
        List<NamedTensor> decoded = TensorCodec.decode(encoded.specs(), encoded.data());

        assertThat(encoded.data().size()).isEqualTo((15 + 7 + 1) * 4);
        assertThat(encoded.specs())
                .extracting(TensorSpec::getName)
                .containsExactly("dense/kernel", "dense/bias", "scalar", "empty");
        assertThat(encoded.specs()).allMatch(s -> s.getDtype() == DType.FLOAT32);
        assertThat(decoded).hasSameSizeAs(model);
        for (int i = 0; i < model.size(); i++) {
            assertThat(decoded.get(i).name()).isEqualTo(model.get(i).name());
            assertThat(decoded.get(i).shape()).isEqualTo(model.get(i).shape());
            assertThat(floatBits(decoded.get(i).values()))
                    .isEqualTo(floatBits(model.get(i).values()));
        }
    }

    @Test
    void encodesValuesAsLittleEndianFloat32InSpecOrder() {
        EncodedModel encoded =
                TensorCodec.encode(
                        List.of(
                                new NamedTensor("a", new long[] {1}, new float[] {1.0f}),
                                new NamedTensor("b", new long[] {1}, new float[] {-2.0f})));

        ByteBuffer expected = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        expected.putFloat(1.0f).putFloat(-2.0f).flip();
        assertThat(encoded.data()).isEqualTo(ByteString.copyFrom(expected));
        assertThat(encoded.data().byteAt(3)).isEqualTo((byte) 0x3f);
    }

    @Test
    void chunksCoverTheDataExactlyWithNoChunkAboveTheLimit() {
        ByteString data = TensorCodec.encode(oddModel()).data(); // 92 bytes

        for (int limit : new int[] {1, 3, 4, 10, 46, 91, 92, 93, 1 << 20}) {
            List<ByteString> chunks = TensorCodec.chunks(data, limit);
            assertThat(chunks).allMatch(c -> c.size() <= limit && !c.isEmpty());
            assertThat(chunks).hasSize((92 + limit - 1) / limit);
            assertThat(ByteString.copyFrom(chunks)).isEqualTo(data);
        }
        assertThat(TensorCodec.chunks(ByteString.EMPTY, 10)).isEmpty();
    }

    @Test
    void assemblerRebuildsAModelFromChunksSplitInsideFloats() {
        List<NamedTensor> model = oddModel();
        EncodedModel encoded = TensorCodec.encode(model);

        TensorCodec.Assembler assembler =
                TensorCodec.assembler(encoded.specs(), encoded.data().size());
        for (ByteString chunk : encoded.chunks(7)) {
            assembler.append(chunk);
        }
        List<NamedTensor> decoded = assembler.finish();

        assertThat(floatBits(decoded.get(0).values())).isEqualTo(floatBits(model.get(0).values()));
        assertThat(floatBits(decoded.get(1).values())).isEqualTo(floatBits(model.get(1).values()));
    }

    @Test
    void rejectsAnyDtypeButFloat32NamingTheTensor() {
        TensorSpec spec =
                TensorSpec.newBuilder()
                        .setName("w")
                        .setDtype(DType.DTYPE_UNSPECIFIED)
                        .addShape(2)
                        .build();

        assertThatThrownBy(
                        () -> TensorCodec.decode(List.of(spec), ByteString.copyFrom(new byte[8])))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'w'")
                .hasMessageContaining("DTYPE_UNSPECIFIED")
                .hasMessageContaining("FLOAT32 only");
    }

    @Test
    void rejectsDataWhoseLengthDisagreesWithTheSpecs() {
        EncodedModel encoded = TensorCodec.encode(oddModel());

        assertThatThrownBy(
                        () -> TensorCodec.decode(encoded.specs(), encoded.data().substring(0, 90)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("90 bytes")
                .hasMessageContaining("92 bytes");
    }

    @Test
    void rejectsNegativeDimensionsAndOversizedTensors() {
        TensorSpec negative =
                TensorSpec.newBuilder()
                        .setName("neg")
                        .setDtype(DType.FLOAT32)
                        .addShape(3)
                        .addShape(-1)
                        .build();
        TensorSpec huge =
                TensorSpec.newBuilder()
                        .setName("huge")
                        .setDtype(DType.FLOAT32)
                        .addShape(1L << 20)
                        .addShape(1L << 20)
                        .build();

        assertThatThrownBy(() -> TensorCodec.byteSize(negative))
                .hasMessageContaining("tensor 'neg' has a negative dimension");
        assertThatThrownBy(() -> TensorCodec.byteSize(huge))
                .hasMessageContaining("tensor 'huge'")
                .hasMessageContaining("2 GiB");
    }

    @Test
    void assemblerRejectsAHeaderWhoseTotalDisagreesWithItsSpecs() {
        EncodedModel encoded = TensorCodec.encode(oddModel());

        assertThatThrownBy(() -> TensorCodec.assembler(encoded.specs(), 100))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("announces 100 bytes")
                .hasMessageContaining("describe 92 bytes");
    }

    @Test
    void assemblerRejectsTooManyAndTooFewBytes() {
        EncodedModel encoded = TensorCodec.encode(oddModel());
        TensorCodec.Assembler overflowing = TensorCodec.assembler(encoded.specs(), 92);
        overflowing.append(encoded.data());
        TensorCodec.Assembler incomplete = TensorCodec.assembler(encoded.specs(), 92);
        incomplete.append(encoded.data().substring(0, 50));

        assertThatThrownBy(() -> overflowing.append(ByteString.copyFrom(new byte[1])))
                .hasMessageContaining("overflows");
        assertThatThrownBy(incomplete::finish)
                .hasMessageContaining("incomplete: 50 of 92 announced bytes");
    }

    @Test
    void rejectsDuplicateTensorNames() {
        List<NamedTensor> twice =
                List.of(
                        new NamedTensor("w", new long[] {1}, new float[] {1}),
                        new NamedTensor("w", new long[] {1}, new float[] {2}));

        assertThatThrownBy(() -> TensorCodec.encode(twice))
                .hasMessageContaining("two tensors named 'w'");
    }

    @Test
    void rejectsNonPositiveChunkLimits() {
        assertThatThrownBy(() -> TensorCodec.chunks(ByteString.EMPTY, 0))
                .hasMessageContaining("maxChunkBytes must be positive");
    }

    private static int[] floatBits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }
}
