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
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
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
        Map<String, String> fromFile = readYaml(file);
        Map<String, String> flat = new LinkedHashMap<>(fromFile);
        flat.putAll(overrides);
        Map<String, String> origins = new HashMap<>();
        fromFile.keySet().forEach(k -> origins.put(k, file.toString()));
        overrides.forEach((k, v) -> origins.put(k, "--set " + k + "=" + v));
        return fromFlatMap(flat, key -> origins.getOrDefault(key, file.toString()));
    }

    static FederationConfig fromFlatMap(Map<String, String> flat, String origin) {
        return fromFlatMap(flat, key -> origin);
    }

    /**
     * Checks and reads {@code flat}; every error starts with where its key came from ({@code
     * origin.apply(key)}: the file, or the {@code --set} argument) and ends with the fix.
     */
    private static FederationConfig fromFlatMap(
            Map<String, String> flat, Function<String, String> origin) {
        Map<String, ConfigOption<?>> known = knownOptions();
        for (String key : flat.keySet()) {
            if (!known.containsKey(key)
                    && key.startsWith("secure-aggregation")
                    && key.contains("secret")) {
                throw new InvalidConfigException(
                        origin.apply(key)
                                + ": '"
                                + key
                                + "': the job never takes a CKKS secret key (whoever reads the"
                                + " job's files could decrypt every update); keep ckks-secret.key"
                                + " with the learners and give the job its public parameters:"
                                + " secure-aggregation.public-key: <dir>/ckks-public.properties");
            }
            if (!known.containsKey(key)) {
                throw new InvalidConfigException(
                        origin.apply(key)
                                + ": unknown key '"
                                + key
                                + "'"
                                + suggestion(key, known.keySet())
                                + "; correct or remove it (every key: "
                                + REFERENCE
                                + ")");
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
                        origin.apply(e.getKey())
                                + ": invalid value '"
                                + e.getValue()
                                + "' for key '"
                                + e.getKey()
                                + "' ("
                                + rootMessage(ex)
                                + "); the key takes: "
                                + FederationOptions.describe(option)
                                + (option.hasDefaultValue()
                                        ? " E.g. its default: " + e.getKey() + "=" + example(option)
                                        : ""),
                        ex);
            }
        }
        try {
            return FederationConfig.from(configuration);
        } catch (InvalidConfigException e) {
            throw new InvalidConfigException(
                    originOf(e.getMessage(), flat.keySet(), origin) + ": " + e.getMessage(), e);
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }

    private static String example(ConfigOption<?> option) {
        Object v = option.defaultValue();
        if (v instanceof java.time.Duration d) {
            return org.apache.flink.util.TimeUtils.formatWithHighestUnit(d);
        }
        if (v instanceof Enum<?> en) {
            return en.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
        return String.valueOf(v);
    }

    /** Where the keys a validation message names came from (the first named key's origin). */
    private static String originOf(
            String message, Collection<String> keys, Function<String, String> origin) {
        String named = null;
        int at = Integer.MAX_VALUE;
        for (String key : keys) {
            int i = message.indexOf("'" + key + "'");
            if (i < 0) {
                i = message.indexOf(key);
                // a longer key containing this one (round.timeout vs round.timeout-x) wins
                if (i >= 0 && i + key.length() < message.length()) {
                    char next = message.charAt(i + key.length());
                    if (Character.isLetterOrDigit(next) || next == '-' || next == '.') {
                        i = -1;
                    }
                }
            }
            if (i >= 0 && i < at) {
                at = i;
                named = key;
            }
        }
        if (named == null) {
            // The message names no key that was set: a rule about defaults; any origin will do.
            return keys.isEmpty() ? "defaults" : origin.apply(keys.iterator().next());
        }
        return origin.apply(named);
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

    /** Where every key is listed. */
    static final String REFERENCE = "docs/reference/federation-config.md";

    /** At most this many keys are suggested for an unknown one. */
    static final int MAX_SUGGESTIONS = 3;

    /**
     * Up to {@link #MAX_SUGGESTIONS} known keys close to {@code key}: the same last part under
     * another section, a last part containing this one's (or contained in it), or a small edit
     * distance; else a few keys of the same section.
     */
    static String suggestion(String key, Collection<String> known) {
        String leaf = key.substring(key.lastIndexOf('.') + 1);
        List<String> close = new ArrayList<>();
        for (String k : known) {
            String kLeaf = k.substring(k.lastIndexOf('.') + 1);
            if (k.endsWith("." + leaf)
                    || editDistance(k, key) <= Math.max(2, key.length() / 5)
                    || (leaf.length() >= 4 && (kLeaf.contains(leaf) || leaf.contains(kLeaf)))) {
                close.add(k);
            }
        }
        close.sort(
                Comparator.<String>comparingInt(k -> editDistance(k, key))
                        .thenComparing(Comparator.naturalOrder()));
        if (!close.isEmpty()) {
            return " (did you mean "
                    + String.join(" or ", close.subList(0, Math.min(MAX_SUGGESTIONS, close.size())))
                    + "?)";
        }
        int dot = key.indexOf('.');
        if (dot > 0) {
            String section = key.substring(0, dot + 1);
            List<String> same = new ArrayList<>();
            for (String k : known) {
                if (k.startsWith(section)) {
                    same.add(k);
                }
            }
            if (!same.isEmpty()) {
                Collections.sort(same);
                String shown = String.join(", ", same.subList(0, Math.min(4, same.size())));
                return " (keys under '"
                        + section
                        + "': "
                        + shown
                        + (same.size() > 4 ? ", ... " + (same.size() - 4) + " more" : "")
                        + ")";
            }
        }
        return "";
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
