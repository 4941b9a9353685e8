package org.metisfl.flink.config;

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads a federation file (YAML, nested or dotted keys) into a validated {@link FederationConfig}.
 * Unknown keys are errors, so a typo never silently falls back to a default.
 *
 * <pre>{@code
 * FederationConfig config = FederationConfigLoader.load(Path.of("conf/federations/quickstart.yaml"),
 *         Map.of("federation.rounds", "3"));
 * }</pre>
 */
public final class FederationConfigLoader {

    private FederationConfigLoader() {}

    /** Loads {@code file}, then applies {@code overrides} (dotted keys), then validates. */
    public static FederationConfig load(Path file, Map<String, String> overrides) {
        Map<String, String> flat = new LinkedHashMap<>(readYaml(file));
        flat.putAll(overrides);
        return fromFlatMap(flat, file.toString());
    }

    static FederationConfig fromFlatMap(Map<String, String> flat, String origin) {
        Map<String, ConfigOption<?>> known = knownOptions();
        for (String key : flat.keySet()) {
            if (!known.containsKey(key)) {
                throw new InvalidConfigException(
                        origin
                                + ": unknown key '"
                                + key
                                + "'"
                                + suggestion(key, known.keySet())
                                + ". Known keys: "
                                + new TreeSet<>(known.keySet()));
            }
        }
        Configuration configuration = Configuration.fromMap(flat);
        // Read each key once so a malformed value is reported with its key.
        for (Map.Entry<String, String> e : flat.entrySet()) {
            ConfigOption<?> option = known.get(e.getKey());
            try {
                configuration.get(option);
            } catch (RuntimeException ex) {
                throw new InvalidConfigException(
                        origin
                                + ": invalid value '"
                                + e.getValue()
                                + "' for key '"
                                + e.getKey()
                                + "': "
                                + ex.getMessage()
                                + " ("
                                + FederationOptions.describe(option)
                                + ")",
                        ex);
            }
        }
        try {
            return FederationConfig.from(configuration);
        } catch (InvalidConfigException e) {
            throw new InvalidConfigException(origin + ": " + e.getMessage(), e);
        }
    }

    static Map<String, String> readYaml(Path file) {
        Object root;
        try (Reader reader = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(reader);
        } catch (NoSuchFileException e) {
            throw new InvalidConfigException(
                    "federation file not found: " + file + " (pass an existing YAML file)");
        } catch (IOException e) {
            throw new InvalidConfigException("cannot read federation file " + file + ": " + e, e);
        } catch (YAMLException e) {
            throw new InvalidConfigException(
                    "federation file " + file + " is not valid YAML: " + e.getMessage(), e);
        }
        Map<String, String> flat = new LinkedHashMap<>();
        if (root == null) {
            return flat;
        }
        if (!(root instanceof Map)) {
            throw new InvalidConfigException(
                    "federation file " + file + " must hold a mapping of keys to values");
        }
        flatten("", (Map<?, ?>) root, flat, file);
        return flat;
    }

    private static void flatten(String prefix, Map<?, ?> map, Map<String, String> out, Path file) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String key = prefix + e.getKey();
            Object value = e.getValue();
            if (value instanceof Map) {
                flatten(key + ".", (Map<?, ?>) value, out, file);
            } else if (value instanceof Collection) {
                throw new InvalidConfigException(
                        file + ": key '" + key + "' holds a list; a single value is expected");
            } else if (value == null) {
                throw new InvalidConfigException(
                        file + ": key '" + key + "' has no value; give one or remove the key");
            } else {
                out.put(key, value.toString());
            }
        }
    }

    /** All keys of {@link FederationOptions}, found once by reflection. */
    static Map<String, ConfigOption<?>> knownOptions() {
        Map<String, ConfigOption<?>> options = new LinkedHashMap<>();
        for (Field field : FederationOptions.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers())
                    && ConfigOption.class.isAssignableFrom(field.getType())) {
                try {
                    ConfigOption<?> option = (ConfigOption<?>) field.get(null);
                    options.put(option.key(), option);
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return options;
    }

    private static String suggestion(String key, Collection<String> known) {
        List<String> close = new ArrayList<>();
        String leaf = key.substring(key.lastIndexOf('.') + 1);
        for (String k : known) {
            if (k.endsWith("." + leaf) || editDistance(k, key) <= 2) {
                close.add(k);
            }
        }
        return close.isEmpty() ? "" : " (did you mean " + String.join(" or ", close) + "?)";
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
