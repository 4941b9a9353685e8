package org.metisfl.flink.model.serialization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SerializerTestBase;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.ShardRound;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;

class BulkArraySerializersTest {

    /** The float[] serializer under Flink's serializer contract. */
    @Nested
    class FloatArrayContract extends SerializerTestBase<float[]> {
        @Override
        protected TypeSerializer<float[]> createSerializer() {
            return BulkFloatArraySerializer.INSTANCE;
        }

        @Override
        protected int getLength() {
            return -1;
        }

        @Override
        protected Class<float[]> getTypeClass() {
            return float[].class;
        }

        @Override
        protected float[][] getTestData() {
            float[] many = new float[10_001];
            for (int i = 0; i < many.length; i++) {
                many[i] = i * 0.5f - 3;
            }
            return new float[][] {new float[0], {1.5f, -0f, Float.MIN_VALUE, Float.NaN}, many};
        }
    }

    /** The double[] serializer under Flink's serializer contract. */
    @Nested
    class DoubleArrayContract extends SerializerTestBase<double[]> {
        @Override
        protected TypeSerializer<double[]> createSerializer() {
            return BulkDoubleArraySerializer.INSTANCE;
        }

        @Override
        protected int getLength() {
            return -1;
        }

        @Override
        protected Class<double[]> getTypeClass() {
            return double[].class;
        }

        @Override
        protected double[][] getTestData() {
            double[] many = new double[10_001];
            for (int i = 0; i < many.length; i++) {
                many[i] = i * 0.25 - 3;
            }
            return new double[][] {new double[0], {1.5, -0.0, Double.MIN_VALUE, 1e300}, many};
        }
    }

    private static <T> T roundTrip(TypeSerializer<T> s, T value) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(64);
        s.serialize(value, out);
        T back = s.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        // copy(DataInputView, DataOutputView) must reproduce the same bytes, into a target that
        // has to grow for them
        DataOutputSerializer copied = new DataOutputSerializer(16);
        s.copy(new DataInputDeserializer(out.getCopyOfBuffer()), copied);
        assertThat(copied.getCopyOfBuffer()).isEqualTo(out.getCopyOfBuffer());
        return back;
    }

    @Test
    void arraysRoundTripBitExactly() throws Exception {
        float[] f = {1.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NaN, 3e-7f};
        assertThat(roundTrip(BulkFloatArraySerializer.INSTANCE, f)).containsExactly(f);
        double[] d = {1.5, -0.0, Double.MIN_VALUE, 1e300, 0.1};
        assertThat(roundTrip(BulkDoubleArraySerializer.INSTANCE, d)).containsExactly(d);
        assertThat(roundTrip(BulkFloatArraySerializer.INSTANCE, new float[0])).isEmpty();

        float[] manyF = new float[10_001];
        double[] manyD = new double[10_001];
        for (int i = 0; i < manyF.length; i++) {
            manyF[i] = i * 0.5f - 3;
            manyD[i] = i * 0.25 - 3;
        }
        assertThat(roundTrip(BulkFloatArraySerializer.INSTANCE, manyF)).containsExactly(manyF);
        assertThat(roundTrip(BulkDoubleArraySerializer.INSTANCE, manyD)).containsExactly(manyD);
    }

    @Test
    void aNegativeLengthSaysTheInputIsCorruptWhenReadOrCopied() {
        byte[] corrupt = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xfd, 0, 0, 0, 0};
        for (TypeSerializer<?> s :
                List.of(BulkFloatArraySerializer.INSTANCE, BulkDoubleArraySerializer.INSTANCE)) {
            assertThatThrownBy(() -> s.deserialize(new DataInputDeserializer(corrupt)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("negative array length -3");
            assertThatThrownBy(
                            () ->
                                    s.copy(
                                            new DataInputDeserializer(corrupt),
                                            new DataOutputSerializer(16)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("negative array length -3");
        }
    }

    @Test
    void recordsAndStateArePojosWithBulkArrayFields() throws Exception {
        TypeInformation<GatewayEvent> info = TypeInformation.of(GatewayEvent.class);
        assertThat(info).isInstanceOf(PojoTypeInfo.class);
        PojoTypeInfo<GatewayEvent> pojo = (PojoTypeInfo<GatewayEvent>) info;
        assertThat(pojo.getTypeAt(pojo.getFieldIndex("values")))
                .isEqualTo(PayloadTypeInfo.INSTANCE);
        assertThat(TypeInformation.of(ShardRound.class)).isInstanceOf(PojoTypeInfo.class);

        SerializerConfigImpl config = new SerializerConfigImpl();
        config.setGenericTypes(false);
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = "learner-1";
        e.values = Payload.dense(new float[] {1, 2, 3});
        e.participants = List.of("a", "b");
        e.metrics = Map.of("loss", 0.5);
        GatewayEvent back = roundTrip(info.createSerializer(config), e);
        assertThat(back.values.values()).containsExactly(1, 2, 3);
        assertThat(back.participants).containsExactly("a", "b");
        assertThat(back.metrics).containsEntry("loss", 0.5);
        assertThat(back.kind).isEqualTo(GatewayEvent.Kind.UPDATE_SHARD);

        GlobalShard g = new GlobalShard();
        g.values = Payload.dense(new float[] {4});
        g.distances = new double[] {0.25};
        g.contributors = List.of("x");
        GlobalShard gb =
                roundTrip(TypeInformation.of(GlobalShard.class).createSerializer(config), g);
        assertThat(gb.values.values()).containsExactly(4);
        assertThat(gb.distances).containsExactly(0.25);
    }

    @Test
    void directivesCarryModelShardsWithTheBulkSerializer() throws Exception {
        TypeInformation<Directive> info = TypeInformation.of(Directive.class);
        assertThat(info).isInstanceOf(PojoTypeInfo.class);
        PojoTypeInfo<Directive> pojo = (PojoTypeInfo<Directive>) info;
        assertThat(pojo.getTypeAt(pojo.getFieldIndex("values")))
                .isEqualTo(PayloadTypeInfo.INSTANCE);

        SerializerConfigImpl config = new SerializerConfigImpl();
        config.setGenericTypes(false);
        Directive back =
                roundTrip(
                        info.createSerializer(config),
                        Directive.modelShard(7, 2, 131_072, Payload.dense(new float[] {1, 2, 3})));
        assertThat(back.kind).isEqualTo(Directive.Kind.MODEL_SHARD);
        assertThat(back.modelVersion).isEqualTo(7);
        assertThat(back.shard).isEqualTo(2);
        assertThat(back.offset).isEqualTo(131_072);
        assertThat(back.values.values()).containsExactly(1, 2, 3);
    }
}
