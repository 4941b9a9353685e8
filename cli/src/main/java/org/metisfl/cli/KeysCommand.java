package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.metisfl.crypto.KeyBundle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code metisfl keys generate}: a CKKS key bundle for a federation with {@code secure-aggregation:
 * ckks} (shared-key mode): the secret key file for the learners and the public parameters for the
 * federation file. The job never needs the secret key.
 *
 * <pre>
 * bin/metisfl keys generate --out work/keys --preset n13-q120
 * </pre>
 */
@Command(
        name = "keys",
        mixinStandardHelpOptions = true,
        description =
                "Generates CKKS key bundles for secure aggregation (secure-aggregation: ckks).",
        subcommands = {KeysCommand.Generate.class})
final class KeysCommand implements Runnable {

    @CommandLine.ParentCommand MetisflCli root;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "give a subcommand: generate");
    }

    @Command(
            name = "generate",
            mixinStandardHelpOptions = true,
            description = {
                "Writes "
                        + KeyBundle.SECRET_FILE
                        + " (the secret key, owner-only: give it to"
                        + " every learner, never to the job) and "
                        + KeyBundle.PUBLIC_FILE
                        + " (backend, preset, parameter hash and public key: the"
                        + " secure-aggregation keys of the federation file) into --out. Refuses to"
                        + " overwrite a secret key."
            })
    static final class Generate implements Callable<Integer> {

        @CommandLine.ParentCommand KeysCommand keys;

        @Option(
                names = "--out",
                required = true,
                paramLabel = "DIR",
                description = "The folder to write the bundle into (created if missing).")
        String out;

        @Option(
                names = "--backend",
                defaultValue = "metisfl-ckks",
                paramLabel = "ID",
                description = "The HE backend (default: ${DEFAULT-VALUE}).")
        String backend;

        @Option(
                names = "--preset",
                defaultValue = "n13-q120",
                paramLabel = "NAME",
                description = "The CKKS parameter preset (default: ${DEFAULT-VALUE}).")
        String preset;

        @Override
        public Integer call() {
            Path dir = keys.root.environment().resolve(out);
            KeyBundle bundle;
            try {
                bundle = KeyBundle.generate(backend, preset);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new CliException(e.getMessage(), CliException.USAGE);
            }
            try {
                bundle.write(dir);
            } catch (FileAlreadyExistsException e) {
                throw new CliException(e.getFile() + ": " + e.getReason());
            } catch (IOException e) {
                throw new CliException("cannot write the key bundle into " + dir + ": " + e);
            }
            var o = keys.spec.commandLine().getOut();
            o.println("Key bundle " + bundle.keyId() + " (" + backend + ", " + preset + "):");
            o.println("  secret key (learners only): " + dir.resolve(KeyBundle.SECRET_FILE));
            o.println("  public parameters:          " + dir.resolve(KeyBundle.PUBLIC_FILE));
            o.println("Federation file:");
            o.println("  secure-aggregation: ckks");
            o.println("  secure-aggregation.backend: " + backend);
            o.println("  secure-aggregation.preset: " + preset);
            return 0;
        }
    }
}
