package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.TransportSecurity;

/** {@code metisfl certs} and {@code metisfl enroll}: files that the job and learners accept. */
class SecurityCommandsTest {
    @TempDir Path dir;

    record Run(int code, String out, String err) {}

    private Run run(String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        dir,
                        dir.resolve("state"),
                        dir,
                        "http://127.0.0.1:1",
                        Duration.ofMillis(10));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MetisflCli.execute(env, new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void certsCreatesFilesTheGatewayAndLearnersLoad() {
        Run r = run("certs", "--dir", "pki", "--host", "fl.example.org", "--learner", "alice");
        assertThat(r.code()).as(r.err()).isZero();
        Path pki = dir.resolve("pki");
        assertThat(r.out()).contains("security.tls.certificate=" + pki.resolve("gateway.pem"));
        TransportSecurity.builder()
                .mode(TransportSecurity.Mode.MUTUAL_TLS)
                .certificateChain(pki.resolve("gateway.pem"))
                .privateKey(pki.resolve("gateway.key"))
                .trustRoots(pki.resolve("ca.pem"))
                .build()
                .serverCredentials();
        TransportSecurity.builder()
                .mode(TransportSecurity.Mode.MUTUAL_TLS)
                .certificateChain(pki.resolve("learners/alice.pem"))
                .privateKey(pki.resolve("learners/alice.key"))
                .trustRoots(pki.resolve("ca.pem"))
                .build()
                .channelCredentials();

        Run again = run("certs", "--dir", "pki", "--learner", "bob");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("Using the development CA");
        assertThat(pki.resolve("learners/bob.pem")).isRegularFile();
    }

    @Test
    void certsRefusesBadInputWithAUsageError() {
        Run bad = run("certs", "--dir", "pki", "--learner", "../../etc");
        assertThat(bad.code()).isEqualTo(CliException.USAGE);
        assertThat(bad.err()).contains("not allowed");
        Run days = run("certs", "--dir", "pki", "--valid-days", "0");
        assertThat(days.code()).isEqualTo(CliException.USAGE);
    }

    @Test
    void enrollCreatesAKeyAndTokensItVerifies() throws Exception {
        assertThat(run("enroll", "init", "--key", "e.key").code()).isZero();
        Run created = run("enroll", "create", "--key", "e.key", "--uses", "3", "--valid", "PT2H");
        assertThat(created.code()).as(created.err()).isZero();
        EnrollmentTokens.Enrollment e =
                EnrollmentTokens.fromKeyFile(dir.resolve("e.key"))
                        .verify(created.out().trim(), Instant.now());
        assertThat(e.maxUses()).isEqualTo(3);
        assertThat(e.expiry()).isAfter(Instant.now().plus(Duration.ofMinutes(119)));

        Run twice = run("enroll", "init", "--key", "e.key");
        assertThat(twice.code()).isEqualTo(CliException.USAGE);
        assertThat(twice.err()).contains("already exists");
        Run badDuration = run("enroll", "create", "--key", "e.key", "--valid", "tomorrow");
        assertThat(badDuration.code()).isEqualTo(CliException.USAGE);
        assertThat(badDuration.err()).contains("ISO-8601");
        Run noKey = run("enroll", "create", "--key", "missing.key");
        assertThat(noKey.code()).isEqualTo(CliException.USAGE);
        assertThat(noKey.err()).contains("enroll init");
        assertThat(Files.exists(dir.resolve("missing.key"))).isFalse();
    }
}
