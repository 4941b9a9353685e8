package org.metisfl.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import org.metisfl.flink.model.ModelCodec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code metisfl models get VERSION}: a stored version's metadata, and with {@code --out} its
 * values exactly as learners receive them (little-endian float32, row-major, tensors in order; for
 * an encrypted version, its ciphertexts).
 */
@Command(
        name = "get",
        mixinStandardHelpOptions = true,
        description = {
            "Prints a stored model version's metadata (JSON). With --out, also writes its values"
                    + " as the learners receive them: little-endian float32, row-major, the"
                    + " tensors one after the other in the order of the metadata's tensors.",
            "An encrypted version (secure-aggregation: ckks) is written as learners receive it"
                    + " too: its shards' ciphertexts, concatenated (the metadata's"
                    + " encryption.shardBytes gives their lengths); 'models export --key'"
                    + " decrypts it."
        })
final class ModelsGetCommand implements Callable<Integer> {

    @CommandLine.ParentCommand ModelsCommand models;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin ModelsCommand.StoreOptions where = new ModelsCommand.StoreOptions();

    @Parameters(index = "0", paramLabel = "VERSION", description = "The model version.")
    long version;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the values here.")
    String out;

    @Override
    public Integer call() {
        CliEnvironment env = models.root.environment();
        ModelStore store = where.open(env);
        try {
            StoredModel meta = store.metadata(version);
            spec.commandLine().getOut().println(ModelStore.toJson(meta));
            if (out != null) {
                Path file = env.resolve(out);
                if (meta.encryption != null) {
                    Files.write(file, store.ciphertexts(version));
                    spec.commandLine()
                            .getErr()
                            .println(
                                    "Ciphertexts of v"
                                            + version
                                            + " (encrypted, key id "
                                            + meta.encryption.keyId
                                            + "; 'models export --key' decrypts): "
                                            + file);
                } else {
                    Files.write(file, littleEndian(store.read(version)));
                    spec.commandLine().getErr().println("Values of v" + version + ": " + file);
                }
            }
        } catch (IOException e) {
            throw new CliException(e.getMessage() + "; list the versions with 'models list'");
        }
        return 0;
    }

    static byte[] littleEndian(ModelCodec.LoadedModel m) {
        ByteBuffer b = ByteBuffer.allocate(m.values().length * Float.BYTES);
        b.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(m.values());
        return b.array();
    }
}
