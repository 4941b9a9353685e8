package org.metisfl.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;
import org.metisfl.flink.config.FederationOptions;
import org.metisfl.flink.config.InvalidConfigException;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.transport.DevSecurity;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A federation file made ready for a cluster: validated here with the job's own loader (so a
 * mistake is reported before anything is submitted), then flattened into {@code --set key=value}
 * program arguments, so the file itself need not exist on the cluster.
 *
 * <p>For a cluster on this machine, relative paths in the federation (results file, initial model)
 * are made absolute against the working directory, since the TaskManagers run elsewhere.
 */
public final class FederationSubmission {
    /** The job's entry point in the shaded job jar. */
    public static final String ENTRY_CLASS = "org.metisfl.flink.FederationJob";

    private final Path file;
    private final Map<String, String> settings;
    private final FederationConfig config;

    private FederationSubmission(Path file, Map<String, String> settings, FederationConfig config) {
        this.file = file;
        this.settings = settings;
        this.config = config;
    }

    /**
     * Reads and validates {@code file} with {@code overrides}.
     *
     * @param localCluster whether the cluster runs on this machine (relative paths are then made
     *     absolute against {@code workingDir})
     * @throws CliException with the loader's message (exit code 2) if the federation is invalid
     */
    public static FederationSubmission prepare(
            Path file, Map<String, String> overrides, boolean localCluster, Path workingDir) {
        try {
            // The loader's checks and messages first (missing file, YAML, unknown keys, values).
            FederationConfig checked = FederationConfigLoader.load(file, overrides);
            Map<String, String> flat = new LinkedHashMap<>(readFlat(file));
            flat.putAll(overrides);
            if (localCluster) {
                flat.put(
                        FederationOptions.RESULTS_FILE.key(),
                        workingDir.resolve(checked.resultsFile()).normalize().toString());
                checked.initialModelFile()
                        .ifPresent(
                                m ->
                                        flat.put(
                                                FederationOptions.INITIAL_MODEL.key(),
                                                workingDir.resolve(m).normalize().toString()));
                checked.modelStorePath()
                        .filter(m -> !m.contains(":/") && !Path.of(m).isAbsolute())
                        .ifPresent(
                                m ->
                                        flat.put(
                                                FederationOptions.MODEL_STORE_PATH.key(),
                                                workingDir.resolve(m).normalize().toString()));
            }
            if (localCluster
                    && !"true".equalsIgnoreCase(flat.get("security.insecure"))
                    && !flat.containsKey("security.tls.certificate")) {
                // Secure by default on a local cluster without a setup step: TLS with the
                // development CA, and enrollment with the development key (bin/metisfl certs).
                DevSecurity dev = DevSecurity.ensure(workingDir.resolve("work").resolve("certs"));
                dev.jobSettings().forEach(flat::putIfAbsent);
            }
            if (localCluster
                    && checked.secureAggregation() == FederationOptions.SecureAggregation.CKKS) {
                String pub = flat.get(DevKeys.PUBLIC_KEY_SETTING);
                if (pub == null) {
                    // Like the development PKI: a key bundle made on first use, its public
                    // parameters for the job; `metisfl learners` gives the secret key beside them
                    // to its learners.
                    Path dir =
                            DevKeys.ensure(
                                    workingDir.resolve("work").resolve("keys"),
                                    checked.heBackend(),
                                    checked.hePreset());
                    flat.put(
                            DevKeys.PUBLIC_KEY_SETTING,
                            dir.resolve(org.metisfl.crypto.KeyBundle.PUBLIC_FILE).toString());
                } else if (!Path.of(pub).isAbsolute()) {
                    flat.put(
                            DevKeys.PUBLIC_KEY_SETTING,
                            workingDir.resolve(pub).normalize().toString());
                }
            }
            // What the job will see: the same keys without the file.
            FederationConfig config = FederationConfig.of(flat);
            GatewaySecurity.from(config);
            return new FederationSubmission(file, flat, config);
        } catch (InvalidConfigException e) {
            throw new CliException(
                    "invalid federation: " + e.getMessage() + " (then submit again)",
                    CliException.USAGE,
                    e);
        }
    }

    /** The federation file as flat dotted keys (nested or dotted YAML, as the job's loader). */
    static Map<String, String> readFlat(Path file) {
        Object root;
        try (Reader reader = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(reader);
        } catch (IOException | YAMLException e) {
            throw new InvalidConfigException("cannot read federation file " + file + ": " + e);
        }
        Map<String, String> flat = new LinkedHashMap<>();
        if (root instanceof Map<?, ?> map) {
            flatten("", map, flat);
        }
        return flat;
    }

    private static void flatten(String prefix, Map<?, ?> map, Map<String, String> out) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String key = prefix + e.getKey();
            Object value = e.getValue();
            if (value instanceof Map<?, ?> nested) {
                flatten(key + ".", nested, out);
            } else if (value != null && !(value instanceof Collection)) {
                out.put(key, value.toString());
            }
        }
    }

    /** The job's program arguments: {@code --set key=value} for every key. */
    public List<String> programArgs() {
        List<String> args = new ArrayList<>();
        for (Map.Entry<String, String> e : settings.entrySet()) {
            args.add("--set");
            args.add(e.getKey() + "=" + e.getValue());
        }
        return args;
    }

    public Path file() {
        return file;
    }

    /** Every key the job receives. */
    public Map<String, String> settings() {
        return settings;
    }

    public FederationConfig config() {
        return config;
    }

    /**
     * The learner gateways' addresses as learners on this machine reach them ({@code host:port}),
     * or an empty list if {@code gateway.port} is 0 (ports chosen by the job at start).
     */
    public List<String> gatewayAddresses() {
        List<String> out = new ArrayList<>();
        if (config.gatewayPort() == 0) {
            return out;
        }
        String host =
                config.gatewayAdvertisedHost()
                        .orElse(
                                "0.0.0.0".equals(config.gatewayHost())
                                                || "::".equals(config.gatewayHost())
                                        ? "localhost"
                                        : config.gatewayHost());
        for (int i = 0; i < config.gatewayParallelism(); i++) {
            out.add(host + ":" + (config.gatewayPort() + i));
        }
        return out;
    }
}
