package org.metisfl.learner;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.learner.internal.TensorCodec;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.Model;
import org.metisfl.proto.v1.Tensor;
import org.metisfl.proto.v1.TensorSpec;

/**
 * Reads a model file (a serialized {@code metisfl.v1.Model}: what {@code metisfl models export}
 * writes and {@code federation.initial-model} takes) as the tensors a {@link ModelAdapter} sets:
 *
 * <pre>{@code
 * adapter.setWeights(ModelFiles.read(Path.of("quickstart-v5.model")));
 * }</pre>
 */
public final class ModelFiles {
    private ModelFiles() {}

    /** The file's tensors, in order; an error names the file and what is wrong with it. */
    public static List<NamedTensor> read(Path file) throws IOException {
        Model model;
        try (InputStream in = Files.newInputStream(file)) {
            model = Model.parseFrom(in);
        }
        try {
            return decode(model);
        } catch (IllegalArgumentException e) {
            throw new IOException("model file " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<NamedTensor> decode(Model model) {
        List<TensorSpec> specs = new ArrayList<>();
        ByteString data = ByteString.EMPTY;
        for (Tensor t : model.getTensorsList()) {
            specs.add(t.getSpec());
            if (t.getData().size() != TensorCodec.byteSize(t.getSpec())) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + t.getSpec().getName()
                                + "' has "
                                + t.getData().size()
                                + " bytes, its shape needs "
                                + TensorCodec.byteSize(t.getSpec()));
            }
            data = data.concat(t.getData());
        }
        if (specs.isEmpty()) {
            throw new IllegalArgumentException("it holds no tensor");
        }
        return TensorCodec.decode(specs, data);
    }
}
