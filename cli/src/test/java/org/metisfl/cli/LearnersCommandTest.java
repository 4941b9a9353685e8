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
}
