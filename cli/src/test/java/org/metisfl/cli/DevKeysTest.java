package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.cli.JobRecords.JobRecord;
import org.metisfl.crypto.KeyBundle;
import picocli.CommandLine;

/**
 * The development CKKS key bundle of local federations: made once, its public parameters for the
 * job (a local submit of conf/federations/ckks.yaml), its secret key for `metisfl learners`.
 */
class DevKeysTest {
    @TempDir Path home;

    @Test
    void makesTheBundleOnceAndKeepsItForLaterRuns() throws Exception {
        Path dir = DevKeys.ensure(home.resolve("keys"), "metisfl-ckks", "n13-q120");
        String keyId = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE)).keyId();

        assertThat(dir).isEqualTo(home.resolve("keys").resolve("metisfl-ckks-n13-q120"));
        assertThat(DevKeys.ensure(home.resolve("keys"), "metisfl-ckks", "n13-q120")).isEqualTo(dir);
        assertThat(KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE)).keyId()).isEqualTo(keyId);
        assertThat(dir.resolve(KeyBundle.PUBLIC_FILE)).exists();
        Files.delete(dir.resolve(KeyBundle.PUBLIC_FILE));
        assertThatThrownBy(() -> DevKeys.ensure(home.resolve("keys"), "metisfl-ckks", "n13-q120"))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("remove the folder to have a new one made");
    }

    @Test
    void aLocalSubmitOfTheCkksFederationGivesTheJobThePublicParametersOnly() throws Exception {
        Path file = Path.of("").toAbsolutePath().getParent().resolve("conf/federations/ckks.yaml");

        FederationSubmission s = FederationSubmission.prepare(file, Map.of(), true, home);

        Path pub = home.resolve("work/keys/metisfl-ckks-n13-q120").resolve(KeyBundle.PUBLIC_FILE);
        assertThat(s.settings()).containsEntry(DevKeys.PUBLIC_KEY_SETTING, pub.toString());
        assertThat(pub.resolveSibling(KeyBundle.SECRET_FILE)).exists();
        assertThat(String.join(" ", s.programArgs())).doesNotContain(KeyBundle.SECRET_FILE);
    }

    @Test
    void learnersOfACkksJobGetTheSecretKeyBesideItsPublicParametersOrAClearError()
            throws Exception {
        Path dir = DevKeys.ensure(home.resolve("keys"), "metisfl-ckks", "n13-q120");
        JobRecord record = new JobRecord();
        record.settings =
                Map.of(
                        "secure-aggregation",
                        "ckks",
                        DevKeys.PUBLIC_KEY_SETTING,
                        dir.resolve(KeyBundle.PUBLIC_FILE).toString());

        assertThat(parse("learners", "--count", "3").keyArgs(record))
                .containsExactly("--ckks-key", dir.resolve(KeyBundle.SECRET_FILE).toString());
        assertThat(parse("learners", "--count", "3", "--ckks-key", "elsewhere").keyArgs(record))
                .containsExactly("--ckks-key", home.resolve("elsewhere").toString());
        JobRecord plain = new JobRecord();
        plain.settings = Map.of();
        assertThat(parse("learners", "--count", "3").keyArgs(plain)).isEmpty();
        JobRecord unknown = new JobRecord();
        unknown.settings = Map.of("secure-aggregation", "ckks");
        assertThatThrownBy(() -> parse("learners", "--count", "3").keyArgs(unknown))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("pass --ckks-key PATH");
    }

    @Test
    void learnersOfAThresholdJobGetAShareDirectoryEachUnderTheJobsOrTheGivenFolder() {
        JobRecord record = new JobRecord();
        record.jobId = "abc123";
        record.settings = Map.of("secure-aggregation", "ckks-threshold");

        assertThat(parse("learners", "--count", "3").shareArgs(record, 2))
                .containsExactly(
                        "--threshold-shares",
                        home.resolve("work/threshold-shares/abc123/learner-2").toString());
        assertThat(
                        parse("learners", "--count", "3", "--threshold-shares", "shares")
                                .shareArgs(record, 0))
                .containsExactly("--threshold-shares", home.resolve("shares/learner-0").toString());
        JobRecord ckks = new JobRecord();
        ckks.jobId = "def";
        ckks.settings = Map.of("secure-aggregation", "ckks");
        assertThat(parse("learners", "--count", "3").shareArgs(ckks, 0)).isEmpty();
        assertThat(parse("learners", "--count", "3").shareArgs(null, 0)).isEmpty();
    }

    private LearnersCommand parse(String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        home, home.resolve("state"), home, "http://localhost:1", Duration.ZERO);
        CommandLine cli = new CommandLine(new MetisflCli(env));
        cli.setOut(new PrintWriter(new StringWriter()));
        CommandLine.ParseResult r = cli.parseArgs(args);
        return (LearnersCommand) r.subcommand().commandSpec().userObject();
    }
}
