package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.DType;
import org.metisfl.proto.v1.Model;
import org.metisfl.proto.v1.Tensor;
import org.metisfl.proto.v1.TensorSpec;

class ModelFilesTest {
    @TempDir Path dir;

    private static Tensor tensor(String name, long[] shape, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        TensorSpec.Builder spec = TensorSpec.newBuilder().setName(name).setDtype(DType.FLOAT32);
        for (long d : shape) {
            spec.addShape(d);
        }
        return Tensor.newBuilder().setSpec(spec).setData(ByteString.copyFrom(b.array())).build();
    }

    @Test
    void readsAnExportedModelFileAsTheAdaptersTensors() throws Exception {
        Path file = dir.resolve("v5.model");
        Files.write(
                file,
                Model.newBuilder()
                        .addTensors(tensor("w", new long[] {2, 2}, 1f, -2f, 3.5f, 4f))
                        .addTensors(tensor("b", new long[] {2}, 0.25f, -0.5f))
                        .build()
                        .toByteArray());
        List<NamedTensor> t = ModelFiles.read(file);
        assertThat(t).extracting(NamedTensor::name).containsExactly("w", "b");
        assertThat(t.get(0).values()).containsExactly(1f, -2f, 3.5f, 4f);
        assertThat(t.get(1).shape()).containsExactly(2L);
        assertThat(t.get(1).values()).containsExactly(0.25f, -0.5f);
    }

    @Test
    void truncatedTensorIsAnErrorNamingTheFileAndTheTensor() throws Exception {
        Path file = dir.resolve("bad.model");
        Tensor short1 = tensor("w", new long[] {3}, 1f, 2f);
        Files.write(file, Model.newBuilder().addTensors(short1).build().toByteArray());
        assertThatThrownBy(() -> ModelFiles.read(file))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("bad.model")
                .hasMessageContaining("tensor 'w' has 8 bytes");
    }
}
