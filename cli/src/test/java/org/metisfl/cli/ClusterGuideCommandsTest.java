package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every {@code bin/metisfl} command in the cluster how-to's code blocks (docs/how-to/cluster.md)
 * and the CLI's README is one the CLI takes as written: the command exists and its options and
 * arguments parse. (What they do is tested by {@link MetisflCliTest} and the E2E cases.)
 */
class ClusterGuideCommandsTest {
    private static final Pattern COMMAND = Pattern.compile("bin/metisfl ([^'`#\\n]*)");

    @TempDir Path dir;

    @Test
    void everyMetisflCommandOfTheClusterGuideParsesAsWritten() throws Exception {
        List<String> commands = commands(Path.of("../docs/how-to/cluster.md"));
        assertThat(commands)
                .contains(
                        "submit conf/federations/quickstart.yaml --set federation.name=quickstart-2"
                                + " --set gateway.port=50061",
                        "learners --job quickstart-2 --count 3 --train-limit 6000 --test-limit 1000",
                        "status quickstart-2")
                .hasSizeGreaterThan(15);
        commands.forEach(this::assertParses);
    }

    @Test
    void everyMetisflCommandOfTheCliReadmeParsesAsWritten() throws Exception {
        List<String> commands = commands(Path.of("README.md"));
        assertThat(commands).hasSizeGreaterThanOrEqualTo(8);
        commands.forEach(this::assertParses);
    }

    private void assertParses(String command) {
        CliEnvironment env =
                new CliEnvironment(
                        dir, dir.resolve("state"), dir, "http://127.0.0.1:1", Duration.ZERO);
        CommandLine cli = new CommandLine(new MetisflCli(env));
        String[] args = command.trim().split("\\s+");
        assertThatCode(() -> cli.parseArgs(args))
                .as("bin/metisfl %s", command)
                .doesNotThrowAnyException();
    }

    /** The commands after {@code bin/metisfl} in the file's fenced code blocks, comments cut. */
    private static List<String> commands(Path file) throws Exception {
        List<String> out = new ArrayList<>();
        boolean code = false;
        for (String line : Files.readAllLines(file)) {
            if (line.strip().startsWith("```")) {
                code = !code;
                continue;
            }
            if (!code) {
                continue;
            }
            Matcher m = COMMAND.matcher(line);
            while (m.find()) {
                // The README's optional parts ([--set KEY=VALUE]...) are left out.
                String c = m.group(1).replaceAll("\\[[^\\]]*\\](\\.\\.\\.)?", "").strip();
                if (!c.isEmpty()) {
                    out.add(c);
                }
            }
        }
        return out;
    }
}
