package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.metisfl.crypto.KeyBundle;

/**
 * The development CKKS key bundle of a federation on this machine (the quickstart, or {@code
 * metisfl submit} to a local cluster), made on first use the way the development PKI is: one bundle
 * per backend and preset under {@code work/keys}, its public parameters for the job ({@code
 * secure-aggregation.public-key}), its secret key for the learners ({@code --ckks-key}). A real
 * federation generates its bundle with {@code metisfl keys generate} and hands the secret key to
 * its learners out of band.
 *
 * <pre>{@code
 * Path dir = DevKeys.ensure(Path.of("work", "keys"), "metisfl-ckks", "n13-q120");
 * }</pre>
 */
public final class DevKeys {

    /** The federation key naming the public parameters file the job reads. */
    public static final String PUBLIC_KEY_SETTING = "secure-aggregation.public-key";

    private DevKeys() {}

    /**
     * The folder of the development bundle for this backend and preset under {@code root},
     * generated if it is not there yet.
     *
     * @throws CliException if an existing bundle there cannot be read or is of other parameters
     */
    public static Path ensure(Path root, String backend, String preset) {
        Path dir = root.resolve(backend + "-" + preset).toAbsolutePath().normalize();
        Path secret = dir.resolve(KeyBundle.SECRET_FILE);
        Path pub = dir.resolve(KeyBundle.PUBLIC_FILE);
        try {
            if (Files.exists(secret)) {
                KeyBundle existing = KeyBundle.load(secret);
                if (!existing.backendId().equals(backend)
                        || !existing.preset().equals(preset)
                        || !Files.isRegularFile(pub)) {
                    throw new CliException(
                            "the development key bundle in "
                                    + dir
                                    + " is not a complete "
                                    + backend
                                    + "/"
                                    + preset
                                    + " bundle; remove the folder to have a new one made");
                }
                return dir;
            }
            KeyBundle.generate(backend, preset).write(dir);
            return dir;
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException(
                    "cannot make or read the development key bundle in " + dir + ": " + e);
        }
    }

    /** The secret key file beside a bundle's public parameters file, if it is there. */
    public static java.util.Optional<Path> secretBeside(Path publicParameters) {
        Path secret = publicParameters.resolveSibling(KeyBundle.SECRET_FILE);
        return Files.isRegularFile(secret)
                ? java.util.Optional.of(secret)
                : java.util.Optional.empty();
    }
}
