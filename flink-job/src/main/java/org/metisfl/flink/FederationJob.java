package org.metisfl.flink;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;
import org.metisfl.flink.config.InvalidConfigException;

/**
 * The federation controller's entry point on a Flink cluster.
 *
 * <pre>
 * flink run -c org.metisfl.flink.FederationJob metisfl-flink-job-job.jar \
 *     --federation conf/federations/quickstart.yaml [--set federation.rounds=20 ...]
 * </pre>
 *
 * <p>Without {@code --federation}, the defaults plus the {@code --set} keys make the federation (so
 * a client can submit a validated file's keys without the file being on the cluster):
 *
 * <pre>
 * flink run ... metisfl-flink-job-job.jar --set federation.name=demo --set federation.rounds=3
 * </pre>
 */
public final class FederationJob {

    private FederationJob() {}

    /**
     * Runs the federation. An invalid command line or federation file throws {@link
     * InvalidConfigException} (never exits the JVM: on a session cluster this main runs inside the
     * JobManager).
     */
    public static void main(String[] args) throws Exception {
        FederationConfig config;
        try {
            config = parse(args);
        } catch (InvalidConfigException e) {
            throw new InvalidConfigException(e.getMessage() + "\n" + usage(), e);
        }
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(
                        FederationPipeline.flinkConfiguration(config));
        FederationPipeline.build(env, config);
        env.execute("MetisFL federation " + config.name());
    }

    /** Parses {@code --federation FILE} and {@code --set key=value} options. */
    public static FederationConfig parse(String[] args) {
        String file = null;
        Map<String, String> overrides = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if ((a.equals("--federation") || a.equals("--set")) && i + 1 >= args.length) {
                throw new InvalidConfigException(a + " needs a value");
            }
            switch (a) {
                case "--federation" -> file = args[++i];
                case "--set" -> {
                    String kv = args[++i];
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new InvalidConfigException(
                                "--set takes key=value, e.g. --set federation.rounds=5; got '"
                                        + kv
                                        + "'");
                    }
                    overrides.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
                }
                default -> throw new InvalidConfigException("unknown argument '" + a + "'");
            }
        }
        if (file == null) {
            if (overrides.isEmpty()) {
                throw new InvalidConfigException(
                        "give the federation as --federation FILE and/or --set key=value");
            }
            return FederationConfig.of(overrides);
        }
        return FederationConfigLoader.load(Path.of(file), overrides);
    }

    static String usage() {
        return "usage: FederationJob --federation FILE [--set key=value]...";
    }
}
