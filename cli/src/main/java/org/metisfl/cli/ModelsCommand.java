package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.connector.store.ModelStore;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code metisfl models list|get|export}: the global model versions a federation's job kept in its
 * model store ({@code model-store.path}). Reads the store directly; needs no cluster.
 *
 * <pre>
 * bin/metisfl models list -f conf/federations/quickstart.yaml
 * bin/metisfl models get 5 -f conf/federations/quickstart.yaml --out v5.f32
 * bin/metisfl models export 5 -f conf/federations/quickstart.yaml --out v5.model
 * </pre>
 */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description =
                "Lists, reads and exports the global model versions in a federation's model"
                        + " store (model-store.path). Needs no cluster.",
        subcommands = {ModelsListCommand.class, ModelsGetCommand.class, ModelsExportCommand.class})
final class ModelsCommand implements Runnable {

    @CommandLine.ParentCommand MetisflCli root;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(
                spec.commandLine(), "give a subcommand: list, get or export");
    }

    /** Where the store is: a federation file, or the store and the federation's name. */
    static final class StoreOptions {
        @Option(
                names = {"-f", "--federation-file"},
                paramLabel = "FILE",
                description =
                        "The federation file: its model-store.path and federation.name (default:"
                                + " conf/federations/quickstart.yaml unless --store is given).")
        String file;

        @Option(
                names = "--store",
                paramLabel = "URI",
                description = "The model store (model-store.path), instead of a federation file.")
        String store;

        @Option(
                names = "--federation",
                paramLabel = "NAME",
                description = "The federation's name (with --store; default: federation).")
        String federation;

        ModelStore open(CliEnvironment env) {
            String uri;
            String name;
            if (store != null) {
                uri = store;
                name = federation != null ? federation : "federation";
            } else {
                Path f = env.resolve(file != null ? file : "conf/federations/quickstart.yaml");
                FederationConfig c;
                try {
                    c = FederationConfigLoader.load(f, Map.of());
                } catch (InvalidConfigException e) {
                    throw new CliException(
                            "invalid federation: " + e.getMessage(), CliException.USAGE, e);
                }
                uri =
                        c.modelStorePath()
                                .orElseThrow(
                                        () ->
                                                new CliException(
                                                        f
                                                                + " sets no model-store.path; set"
                                                                + " it (the job then keeps its"
                                                                + " models), or give --store",
                                                        CliException.USAGE));
                name = federation != null ? federation : c.name();
            }
            if (!uri.contains(":/")) {
                uri = env.resolve(uri).toAbsolutePath().toUri().toString();
            }
            try {
                return ModelStore.open(uri, name);
            } catch (IOException | IllegalArgumentException e) {
                throw new CliException(
                        "cannot open the model store " + uri + ": " + e.getMessage(),
                        CliException.USAGE,
                        e);
            }
        }
    }
}
