package org.metisfl.flink.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** job.checkpoint-interval: explicit, validated, or derived from the model's size. */
class CheckpointIntervalTest {
    @TempDir Path dir;

    /** A sparse file of {@code bytes}: only its size matters to the rule. */
    private String modelFile(long bytes) throws Exception {
        Path p = dir.resolve("model-" + bytes + ".bin");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p.toString();
    }

    private static long interval(Map<String, String> settings) {
        return FederationConfig.of(settings).checkpointIntervalMs();
    }

    @Test
    void theDefaultIsOneSecondPer12Point5MillionParametersBetweenOneAndSixtySeconds()
            throws Exception {
        // 8 bytes of open sums per parameter written at 100 MB/s: 2 x model bytes / 100 MB/s
        assertThat(interval(Map.of("federation.initial-model", modelFile(4_000_000))))
                .as("1M parameters")
                .isEqualTo(1_000);
        assertThat(interval(Map.of("federation.initial-model", modelFile(40_000_000))))
                .as("10M parameters: 0.8 s, at least 1 s")
                .isEqualTo(1_000);
        assertThat(interval(Map.of("federation.initial-model", modelFile(200_000_000))))
                .as("50M parameters")
                .isEqualTo(4_000);
        assertThat(interval(Map.of("federation.initial-model", modelFile(400_000_000))))
                .as("100M parameters")
                .isEqualTo(8_000);
        assertThat(interval(Map.of("federation.initial-model", modelFile(2_000_000_000L))))
                .as("500M parameters: 40 s")
                .isEqualTo(40_000);
        assertThat(FederationConfig.defaultCheckpointIntervalMs(8_000_000_000L))
                .as("at most a minute")
                .isEqualTo(60_000);
    }

    @Test
    void withoutAModelFileTheDefaultIsOneSecond() {
        assertThat(interval(Map.of())).isEqualTo(1_000);
        assertThat(interval(Map.of("federation.initial-model", "first-learner"))).isEqualTo(1_000);
        assertThat(interval(Map.of("federation.initial-model", "s3://bucket/model.bin")))
                .isEqualTo(1_000);
    }

    @Test
    void anExplicitIntervalWinsAndIsValidated() throws Exception {
        String big = modelFile(400_000_000);
        assertThat(
                        interval(
                                Map.of(
                                        "federation.initial-model",
                                        big,
                                        "job.checkpoint-interval",
                                        "2 s")))
                .isEqualTo(2_000);
        assertThat(interval(Map.of("job.checkpoint-interval", "0"))).isZero();
        assertThatThrownBy(() -> interval(Map.of("job.checkpoint-interval", "5 ms")))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("job.checkpoint-interval")
                .hasMessageContaining("at least 10 ms");
    }
}
