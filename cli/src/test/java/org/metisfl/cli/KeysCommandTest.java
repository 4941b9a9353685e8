package org.metisfl.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.FederationConfigLoader;

/** {@code metisfl keys generate}: a bundle learners load and a federation file accepts. */
class KeysCommandTest {
    @TempDir Path dir;

    record Run(int code, String out, String err) {}

    private Run run(String... args) {
        CliEnvironment env =
                new CliEnvironment(
                        dir.resolve("home"),
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
    void generatesABundleLearnersLoadAndPrintsTheFederationKeys() throws Exception {
        Run r = run("keys", "generate", "--out", "keys", "--preset", "n13-q180");
        assertThat(r.code()).as(r.err()).isZero();
        KeyBundle k = KeyBundle.load(dir.resolve("keys").resolve(KeyBundle.SECRET_FILE));
        assertThat(k.preset()).isEqualTo("n13-q180");
        assertThat(r.out()).contains(k.keyId(), "secure-aggregation.preset: n13-q180");

        // The printed keys make a valid federation file.
        Path yaml = dir.resolve("ckks.yaml");
        String keys = r.out().substring(r.out().indexOf("  secure-aggregation: ckks"));
        Files.writeString(yaml, "federation: {name: ckks}\n" + keys.replace("  secure", "secure"));
        FederationConfig c = FederationConfigLoader.load(yaml, java.util.Map.of());
        assertThat(c.hePreset()).isEqualTo("n13-q180");
    }

    @Test
    void refusesToOverwriteASecretKeyAndUnknownPresets() {
        assertThat(run("keys", "generate", "--out", "keys").code()).isZero();
        Run again = run("keys", "generate", "--out", "keys");
        assertThat(again.code()).isEqualTo(CliException.FAILED);
        assertThat(again.err()).contains("already there");
        Run bad = run("keys", "generate", "--out", "other", "--preset", "n12");
        assertThat(bad.code()).isEqualTo(CliException.USAGE);
        assertThat(bad.err()).contains("n13-q120");
    }
}
