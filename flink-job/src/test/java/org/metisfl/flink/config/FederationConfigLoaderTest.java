package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FederationConfigLoaderTest {
    @TempDir Path dir;

    private Path write(String yaml) throws Exception {
        Path f = dir.resolve("fed.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void readsNestedAndDottedKeysAndAppliesOverrides() throws Exception {
        Path f =
                write(
                        """
                        federation:
                          name: demo
                          rounds: 7
                        round.timeout: 90 s
                        round:
                          quorum: 0.75
                        aggregation: {scaling: participants, shard-size: 2048}
                        """);
        FederationConfig c = FederationConfigLoader.load(f, Map.of("federation.rounds", "3"));
        assertThat(c.name()).isEqualTo("demo");
        assertThat(c.rounds()).isEqualTo(3);
        assertThat(c.roundTimeoutMs()).isEqualTo(90_000);
        assertThat(c.quorumOf(4)).isEqualTo(3);
        assertThat(c.scaling()).isEqualTo(FederationOptions.Scaling.PARTICIPANTS);
        assertThat(c.shardSize()).isEqualTo(2048);
        assertThat(c.resultsFile()).isEqualTo("results/demo.jsonl");
        assertThat(c.initialModelFile()).isEmpty();
    }

    @Test
    void shippedQuickstartFileIsValid() {
        Path shipped = Path.of("../conf/federations/quickstart.yaml");
        FederationConfig c = FederationConfigLoader.load(shipped, Map.of());
        assertThat(c.rounds()).isEqualTo(5);
        assertThat(c.minLearners()).isEqualTo(3);
        assertThat(c.gatewayPort()).isEqualTo(50051);
    }

    @Test
    void everyShippedFederationFileIsValid() throws Exception {
        try (var files = Files.list(Path.of("../conf/federations"))) {
            List<Path> yamls = files.filter(f -> f.toString().endsWith(".yaml")).toList();
            assertThat(yamls).hasSizeGreaterThanOrEqualTo(5);
            for (Path f : yamls) {
                FederationConfig c = FederationConfigLoader.load(f, Map.of());
                assertThat(c.gatewayPort()).as(f.toString()).isPositive();
            }
        }
    }

    @Test
    void unknownKeyIsRefusedWithASuggestion() throws Exception {
        Path f = write("round:\n  timout: 5 min\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("unknown key 'round.timout'")
                .hasMessageContaining("did you mean round.timeout");
    }

    @Test
    void unknownKeyInTheFileNamesTheFileAFewCloseKeysAndTheFixOnOneLine() throws Exception {
        Path f = write("round:\n  timout: 5 min\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .satisfies(
                        e -> {
                            String m = e.getMessage();
                            assertThat(m).startsWith(f + ": unknown key 'round.timout'");
                            assertThat(m).contains("correct or remove it");
                            assertThat(m).contains(FederationConfigLoader.REFERENCE);
                            assertThat(m).doesNotContain("\n");
                            // a few suggestions, not every known key
                            long named =
                                    FederationConfigLoader.knownOptions().keySet().stream()
                                            .filter(k -> m.contains(k))
                                            .count();
                            assertThat(named)
                                    .isBetween(1L, (long) FederationConfigLoader.MAX_SUGGESTIONS);
                        });
    }

    @Test
    void unknownKeyGivenWithSetIsBlamedOnTheSetArgumentNotTheFile() throws Exception {
        Path f = write("federation:\n  rounds: 3\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of("federation.rouns", "4")))
                .hasMessageStartingWith("--set federation.rouns=4: unknown key 'federation.rouns'")
                .hasMessageContaining("did you mean federation.rounds?")
                .hasMessageNotContaining(f.toString());
    }

    @Test
    void badValuesSayWhetherTheyCameFromTheFileOrFromSet() throws Exception {
        Path f = write("round:\n  quorum: 0.5\nfederation:\n  rounds: 3\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of("round.quorum", "1.5")))
                .hasMessageStartingWith("--set round.quorum=1.5: ")
                .hasMessageContaining("(0, 1]");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of("federation.rounds", "x")))
                .hasMessageStartingWith("--set federation.rounds=x: invalid value 'x'");
        Path bad = write("round:\n  quorum: 1.5\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(bad, Map.of("federation.rounds", "3")))
                .hasMessageStartingWith(bad + ": ")
                .hasMessageContaining("round.quorum");
    }

    @Test
    void keyFarFromEveryKnownOneListsAFewKeysOfItsSection() {
        String s =
                FederationConfigLoader.suggestion(
                        "gateway.zzzzzzzzzzzz", FederationConfigLoader.knownOptions().keySet());
        assertThat(s).startsWith(" (keys under 'gateway.': gateway.");
        long named =
                FederationConfigLoader.knownOptions().keySet().stream().filter(s::contains).count();
        assertThat(named).isBetween(1L, 4L);
        assertThat(FederationConfigLoader.suggestion("nothing-like-it", List.of("a.b"))).isEmpty();
        // a key named by part of its last word, under the wrong section
        assertThat(
                        FederationConfigLoader.suggestion(
                                "learner.batch", FederationConfigLoader.knownOptions().keySet()))
                .contains("train.batch-size");
    }

    @Test
    void malformedValueNamesTheKey() throws Exception {
        Path f = write("federation:\n  rounds: many\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'federation.rounds'")
                .hasMessageContaining("many");
    }

    @Test
    void outOfRangeValueSaysHowToFixIt() throws Exception {
        Path f = write("round:\n  quorum: 1.5\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("round.quorum")
                .hasMessageContaining("(0, 1]");
    }

    @Test
    void unsupportedRuleIsRefused() throws Exception {
        Path f = write("aggregation:\n  rule: geometric-median\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(f, Map.of()))
                .hasMessageContaining("aggregation.rule")
                .hasMessageContaining("fedavg");
    }

    @Test
    void missingAndInvalidFilesAreReportedClearly() throws Exception {
        assertThatThrownBy(() -> FederationConfigLoader.load(dir.resolve("nope.yaml"), Map.of()))
                .hasMessageContaining("not found");
        Path broken = write("federation: [unclosed\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(broken, Map.of()))
                .hasMessageContaining("not valid YAML");
        Path list = write("federation:\n  name:\n    - a\n");
        assertThatThrownBy(() -> FederationConfigLoader.load(list, Map.of()))
                .hasMessageContaining("federation.name");
    }

    @Test
    void configSurvivesJavaSerialization() throws Exception {
        FederationConfig c = FederationConfig.of(Map.of("federation.rounds", "4"));
        var bytes = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(c);
        }
        try (var in =
                new java.io.ObjectInputStream(
                        new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            assertThat(((FederationConfig) in.readObject()).rounds()).isEqualTo(4);
        }
    }

    @Test
    void invalidCombinationsNameTheKeyAndTheFix() {
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "protocol.type", "asynchronous",
                                                "aggregation.rule", "median")))
                .hasMessageContaining("aggregation.rule")
                .hasMessageContaining("async.rule");
        assertThatThrownBy(
                        () ->
                                FederationConfig.of(
                                        Map.of(
                                                "protocol.type", "asynchronous",
                                                "optimizer.type", "fedadam")))
                .hasMessageContaining("optimizer.type");
        assertThatThrownBy(() -> FederationConfig.of(Map.of("termination.metric", "accuracy")))
                .hasMessageContaining("termination.metric-cutoff");
        assertThatThrownBy(() -> FederationConfig.of(Map.of("protocol.type", "gossip")))
                .hasMessageContaining("synchronous, semi-synchronous, asynchronous");
    }
}
