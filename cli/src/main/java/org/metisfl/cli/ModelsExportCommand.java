package org.metisfl.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.TensorSpecInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code metisfl models export VERSION --out FILE}: a stored version as a model file (a serialized
 * {@code metisfl.v1.Model}, what {@code federation.initial-model} takes) or as raw tensors with a
 * JSON header (for Python: numpy.fromfile with dtype '&lt;f4', then reshape per the header).
 */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = {
            "Exports a stored model version. --format model (default): a metisfl.v1.Model file,"
                    + " which federation.initial-model takes (a federation starts from it).",
            "--format raw: FILE holds little-endian float32 values, row-major, tensors one after"
                    + " the other; FILE.json lists each tensor's name, dtype, shape and offset"
                    + " (in values).",
            "A CKKS federation's versions are stored encrypted: --key decrypts them (the"
                    + " learners' ckks-secret.key or its folder); the files are then plaintext."
        })
final class ModelsExportCommand implements Callable<Integer> {

    enum Format {
        model,
        raw
    }

    @CommandLine.ParentCommand ModelsCommand models;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin ModelsCommand.StoreOptions where = new ModelsCommand.StoreOptions();

    @Parameters(index = "0", paramLabel = "VERSION", description = "The model version.")
    long version;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The file.")
    String out;

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            description = "model (default) or raw.",
            defaultValue = "model")
    Format format;

    @Option(
            names = "--key",
            paramLabel = "PATH",
            description =
                    "The federation's CKKS secret key (ckks-secret.key or its folder), to decrypt"
                            + " an encrypted version (secure-aggregation: ckks).")
    String key;

    @Override
    public Integer call() {
        CliEnvironment env = models.root.environment();
        ModelStore store = where.open(env);
        Path file = env.resolve(out);
        try {
            StoredModel meta = store.metadata(version);
            ModelCodec.LoadedModel decrypted = null;
            if (meta.encryption != null) {
                if (key == null) {
                    throw new CliException(
                            "v"
                                    + version
                                    + " is encrypted (CKKS "
                                    + meta.encryption.preset
                                    + ", key id "
                                    + meta.encryption.keyId
                                    + "): give the federation's secret key with --key PATH"
                                    + " (ckks-secret.key or its folder) to export it decrypted;"
                                    + " 'models get "
                                    + version
                                    + " --out FILE' writes its ciphertexts as they are",
                            CliException.USAGE);
                }
                float[] values =
                        EncryptedVersions.decrypt(
                                version,
                                meta,
                                store.ciphertexts(version),
                                EncryptedVersions.loadKey(env, key));
                decrypted = new ModelCodec.LoadedModel(meta.tensors, values);
            }
            if (format == Format.model) {
                Files.write(
                        file,
                        decrypted == null
                                ? store.modelFileBytes(version)
                                : ModelCodec.modelFileBytes(
                                        decrypted.tensors(), decrypted.values()));
                spec.commandLine().getOut().println("Model v" + version + ": " + file);
            } else {
                ModelCodec.LoadedModel m = decrypted != null ? decrypted : store.read(version);
                Files.write(file, ModelsGetCommand.littleEndian(m));
                Path header = file.resolveSibling(file.getFileName() + ".json");
                Files.writeString(header, header(version, m), StandardCharsets.UTF_8);
                spec.commandLine()
                        .getOut()
                        .println("Model v" + version + ": " + file + ", " + header);
            }
        } catch (IOException e) {
            throw new CliException(e.getMessage() + "; list the versions with 'models list'");
        }
        return 0;
    }

    static String header(long version, ModelCodec.LoadedModel m) {
        List<Map<String, Object>> tensors = new ArrayList<>();
        long offset = 0;
        for (TensorSpecInfo t : m.tensors()) {
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("name", t.name);
            spec.put("dtype", "float32");
            spec.put("byte_order", "little");
            spec.put("shape", t.shape);
            spec.put("offset", offset);
            offset += t.size();
            tensors.add(spec);
        }
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("version", version);
        h.put("values", offset);
        h.put("tensors", tensors);
        return ModelStore.toJson(h);
    }
}
