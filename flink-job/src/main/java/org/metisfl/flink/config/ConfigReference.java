package org.metisfl.flink.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;

/**
 * Writes the reference of every federation key (docs/reference/federation-config.md) from {@link
 * FederationOptions}, so the documentation cannot drift from the code: a test compares the two.
 *
 * <pre>{@code
 * java -cp ... org.metisfl.flink.config.ConfigReference docs/reference/federation-config.md
 * }</pre>
 */
public final class ConfigReference {

    private ConfigReference() {}

    public static String markdown() {
        StringBuilder b = new StringBuilder();
        b.append("# Federation configuration keys\n\n")
                .append("A federation file is YAML; keys may be nested (`round: {timeout: 5 min}`)")
                .append(" or dotted (`round.timeout: 5 min`). Unknown keys are refused.\n")
                .append("Durations take a unit (`500 ms`, `30 s`, `10 min`), sizes too (`4 mb`).\n")
                .append("`bin/quickstart --set key=value` and `FederationJob --set key=value`")
                .append(" override any key.\n\n")
                .append("Generated from `FederationOptions` by `ConfigReference`;")
                .append(" `ConfigReferenceTest` keeps it in sync.\n\n")
                .append("| key | default | description |\n| --- | --- | --- |\n");
        for (Map.Entry<String, ConfigOption<?>> e :
                FederationConfigLoader.knownOptions().entrySet()) {
            ConfigOption<?> o = e.getValue();
            String def = o.hasDefaultValue() ? "`" + format(o.defaultValue()) + "`" : "(none)";
            b.append("| `")
                    .append(e.getKey())
                    .append("` | ")
                    .append(def)
                    .append(" | ")
                    .append(FederationOptions.describe(o).replace("|", "\\|"))
                    .append(" |\n");
        }
        return b.toString();
    }

    private static String format(Object value) {
        if (value instanceof java.time.Duration d) {
            return org.apache.flink.util.TimeUtils.formatWithHighestUnit(d);
        }
        if (value instanceof Enum<?> en) {
            return en.name().toLowerCase(java.util.Locale.ROOT);
        }
        return String.valueOf(value);
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "docs/reference/federation-config.md");
        Files.writeString(out, markdown());
    }
}
