package org.metisfl.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Where the CLI runs: the MetisFL installation (for the job jar and the example learners), the
 * folder where it keeps what it knows of submitted jobs, the working directory for relative paths,
 * and how often it polls Flink. Tests build one pointing at a temporary folder.
 *
 * @param home the MetisFL checkout or installation ({@code -Dmetisfl.home}, {@code METISFL_HOME},
 *     else the working directory)
 * @param stateDir where job records are kept ({@code <home>/work/cli})
 * @param workingDir the directory relative paths on the command line resolve against
 * @param defaultCluster the cluster URL when {@code --cluster} is not given
 * @param pollInterval how often asynchronous Flink operations (savepoints) are polled
 * @param clusterCa the PEM CA an https cluster's REST certificate is checked against when {@code
 *     --cluster-ca} is not given ({@code METISFL_CLUSTER_CA}), or null
 */
public record CliEnvironment(
        Path home,
        Path stateDir,
        Path workingDir,
        String defaultCluster,
        Duration pollInterval,
        String clusterCa) {

    /** Without a cluster CA (plaintext clusters, or the JDK's trust roots). */
    public CliEnvironment(
            Path home,
            Path stateDir,
            Path workingDir,
            String defaultCluster,
            Duration pollInterval) {
        this(home, stateDir, workingDir, defaultCluster, pollInterval, null);
    }

    /** The cluster URL used when neither {@code --cluster} nor {@code METISFL_CLUSTER} is set. */
    public static final String LOCAL_CLUSTER = "http://localhost:8081";

    /** The environment of a real run, from system properties and environment variables. */
    public static CliEnvironment fromSystem() {
        Map<String, String> env = System.getenv();
        Path cwd = Path.of("").toAbsolutePath();
        Path home =
                Optional.ofNullable(System.getProperty("metisfl.home"))
                        .or(() -> Optional.ofNullable(env.get("METISFL_HOME")))
                        .map(p -> Path.of(p).toAbsolutePath().normalize())
                        .orElse(cwd);
        return new CliEnvironment(
                home,
                home.resolve("work").resolve("cli"),
                cwd,
                Optional.ofNullable(env.get("METISFL_CLUSTER")).orElse(LOCAL_CLUSTER),
                Duration.ofMillis(250),
                env.get("METISFL_CLUSTER_CA"));
    }

    /** The shaded job jar: the freshest of flink-job's build output and the CLI's copy. */
    public Optional<Path> defaultJobJar() {
        Path built =
                home.resolve("flink-job")
                        .resolve("target")
                        .resolve("metisfl-flink-job-0.1.0-SNAPSHOT-job.jar");
        Path copied = home.resolve("cli").resolve("target").resolve("job/metisfl-flink-job.jar");
        Path best = null;
        for (Path p : new Path[] {built, copied}) {
            if (Files.isRegularFile(p)
                    && (best == null || p.toFile().lastModified() > best.toFile().lastModified())) {
                best = p;
            }
        }
        return Optional.ofNullable(best);
    }

    /**
     * How the user runs this CLI, as the start of every command it suggests: {@code
     * -Dmetisfl.command} (bin/metisfl passes how it was called), else {@code bin/metisfl} of the
     * home, relative to the working directory when below it.
     */
    public String command() {
        String given = System.getProperty("metisfl.command");
        if (given != null && !given.isBlank()) {
            return given;
        }
        return path(home.resolve("bin").resolve("metisfl"));
    }

    /** A path as a command suggested to the user names it: relative below the working dir. */
    public String path(Path p) {
        Path absolute = workingDir.resolve(p).toAbsolutePath().normalize();
        Path cwd = workingDir.toAbsolutePath().normalize();
        return absolute.startsWith(cwd) && !absolute.equals(cwd)
                ? cwd.relativize(absolute).toString()
                : absolute.toString();
    }

    /** Resolves a path given on the command line against the working directory. */
    public Path resolve(String path) {
        return workingDir.resolve(path).normalize();
    }
}
