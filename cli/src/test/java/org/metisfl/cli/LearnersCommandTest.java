package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class LearnersCommandTest {
    @TempDir Path home;

    private LearnersCommand parse(String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        home, home.resolve("state"), home, "http://localhost:1", Duration.ZERO);
        CommandLine cli = new CommandLine(new MetisflCli(env));
        CommandLine.ParseResult r = cli.parseArgs(args);
        return (LearnersCommand) r.subcommand().commandSpec().userObject();
    }

    @Test
    void eachLearnerStartsAtItsOwnGatewayAndGetsItsPartOfTheData() {
        LearnersCommand c =
                parse(
                        "learners",
                        "--count",
                        "3",
                        "--gateway",
                        "h:1",
                        "--gateway",
                        "h:2",
                        "--partition",
                        "dirichlet",
                        "--train-limit",
                        "600");
        List<String> cmd = c.command("cp", List.of("h:1", "h:2"), 1, 3);
        assertThat(cmd).contains(LearnersCommand.LEARNER_MAIN, "-Xmx2g");
        assertThat(String.join(" ", cmd))
                .contains("--gateway h:2 --gateway h:1")
                .contains("--learners 3 --learner-index 1")
                .contains("--partition dirichlet")
                .contains("--train-limit 600")
                .doesNotContain("--alpha");
    }

    @Test
    void learnerProcessesLogTheirEpochsBecauseTheirLoggingConfigurationKeepsInfo()
            throws Exception {
        List<String> cmd = parse("learners", "--count", "1").command("cp", List.of("h:1"), 0, 1);
        // No override: the example's classpath configuration applies ...
        assertThat(cmd).noneMatch(a -> a.startsWith("-Dlog4j"));
        // ... and it keeps the learner's per-epoch and per-round lines (INFO).
        Path config =
                Path.of("").toAbsolutePath().getParent().resolve("examples/src/main/resources");
        Path file = config.resolve("log4j2.properties");
        assertThat(file).exists();
        try (var in = java.nio.file.Files.newInputStream(file)) {
            var source =
                    new org.apache.logging.log4j.core.config.ConfigurationSource(in, file.toFile());
            var configuration =
                    new org.apache.logging.log4j.core.config.properties
                                    .PropertiesConfigurationFactory()
                            .getConfiguration(null, source);
            configuration.initialize();
            for (String logger :
                    List.of(
                            "org.metisfl.learner.dl4j.DeepLearning4jAdapter",
                            "org.metisfl.learner.internal.LearnerSession",
                            "org.metisfl.examples.fashionmnist.FashionMnistLearner")) {
                assertThat(
                                configuration
                                        .getLoggerConfig(logger)
                                        .getLevel()
                                        .isLessSpecificThan(org.apache.logging.log4j.Level.INFO))
                        .as(logger)
                        .isTrue();
            }
        }
    }

    @Test
    void learnersBeyondTheDataPartsAreRefused() {
        StringWriter err = new StringWriter();
        CliEnvironment env =
                new CliEnvironment(
                        home, home.resolve("state"), home, "http://localhost:1", Duration.ZERO);
        int code =
                MetisflCli.execute(
                        env,
                        new PrintWriter(new StringWriter()),
                        new PrintWriter(err),
                        "learners",
                        "--count",
                        "3",
                        "--learners",
                        "2",
                        "--gateway",
                        "h:1");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("do not fit --learners 2");
    }

    private int run(StringWriter err, String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        home, home.resolve("state"), home, "http://localhost:1", Duration.ZERO);
        return MetisflCli.execute(
                env, new PrintWriter(new StringWriter()), new PrintWriter(err), args);
    }

    @Test
    void learnersWithoutACountOrASubcommandSaysWhatToGive() {
        StringWriter err = new StringWriter();
        assertThat(run(err, "learners")).isEqualTo(2);
        assertThat(err.toString())
                .contains("give --count N")
                .contains("'learners list'")
                .contains("'learners revoke LEARNER_ID'");
    }

    @Test
    void revokeRefusesWhatIsNotALearnerIdBeforeCallingAnything() {
        StringWriter err = new StringWriter();
        assertThat(run(err, "learners", "revoke", "alice")).isEqualTo(2);
        assertThat(err.toString()).contains("'alice' is not a learner id");
    }

    @Test
    void listAndRevokeTakeTheClusterOptionOfEveryClusterCommand() {
        StringWriter err = new StringWriter();
        // The cluster is unreachable: the error names it, so --cluster reached the subcommand.
        assertThat(
                        run(
                                err,
                                "learners",
                                "list",
                                "--cluster",
                                "http://127.0.0.1:1",
                                "--job",
                                "0123456789abcdef0123456789abcdef"))
                .isNotZero();
        assertThat(err.toString()).contains("127.0.0.1:1");
    }
}
