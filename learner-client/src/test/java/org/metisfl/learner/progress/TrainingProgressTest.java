package org.metisfl.learner.progress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TrainingProgressTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void plainLinesGiveEachEpochsBatchesMeanLossAndThroughputAndSomeLinesInBetween() {
        AtomicLong now = new AtomicLong(0);
        List<String> lines = new ArrayList<>();
        TrainingProgress progress =
                TrainingProgress.lines(lines::add, now::get, Duration.ofSeconds(30));

        try (TrainingProgress.Epoch epoch = progress.epoch(3, 1, 2, 5)) {
            for (int b = 0; b < 5; b++) {
                now.addAndGet(10 * SECOND); // a batch takes 10 s: a line at 30 s
                epoch.batch(b < 4 ? 32 : 8, b + 1.0);
            }
        }

        // mean loss weighted by examples: (32 (1 + 2 + 3 + 4) + 8 * 5) / 136
        double loss = (32 * (1 + 2 + 3 + 4) + 8 * 5) / 136.0;
        assertThat(lines)
                .containsExactly(
                        "round 3: epoch 1/2 (so far), 3/5 batches, mean loss 2.0000, 3 examples/s,"
                                + " 30.0 s",
                        String.format(
                                java.util.Locale.ROOT,
                                "round 3: epoch 1/2, 5/5 batches, mean loss %.4f, 3 examples/s,"
                                        + " 50.0 s",
                                loss));
        TrainingProgress.Totals t = progress.totals();
        assertThat(t).isEqualTo(new TrainingProgress.Totals(1, 5, 136, 50.0));
        assertThat(t.describe())
                .isEqualTo("1 epoch, 5 batches, 136 examples in 50.0 s (3 examples/s)");
    }

    @Test
    void stepsCountTowardsTheTotalsLikeEpochs() {
        AtomicLong now = new AtomicLong(0);
        List<String> lines = new ArrayList<>();
        TrainingProgress progress =
                TrainingProgress.lines(lines::add, now::get, Duration.ofSeconds(30));
        for (int run = 0; run < 2; run++) {
            try (TrainingProgress.Epoch steps = progress.steps(run + 1, 2)) {
                now.addAndGet(SECOND);
                steps.batch(10, 0.5);
                now.addAndGet(SECOND);
                steps.batch(10, 0.5);
            }
        }
        assertThat(lines)
                .containsExactly(
                        "round 1: 2 local steps, 2/2 batches, mean loss 0.5000, 10 examples/s,"
                                + " 2.0 s",
                        "round 2: 2 local steps, 2/2 batches, mean loss 0.5000, 10 examples/s,"
                                + " 2.0 s");
        assertThat(progress.totals()).isEqualTo(new TrainingProgress.Totals(2, 4, 40, 4.0));
    }

    @Test
    void barIsDrawnOnTheTerminalAndTheEpochLineStillGoesToTheLog() {
        ByteArrayOutputStream terminal = new ByteArrayOutputStream();
        List<String> lines = new ArrayList<>();
        TrainingProgress progress =
                TrainingProgress.bar(
                        lines::add, new PrintStream(terminal, true, StandardCharsets.UTF_8));
        try (TrainingProgress.Epoch epoch = progress.epoch(1, 1, 1, 4)) {
            for (int b = 0; b < 4; b++) {
                epoch.batch(16, 0.25);
            }
        }
        String drawn = terminal.toString(StandardCharsets.UTF_8);
        assertThat(drawn).contains("round 1: epoch 1/1").contains("4/4").contains("loss 0.2500");
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).startsWith("round 1: epoch 1/1, 4/4 batches, mean loss 0.2500");
    }

    @Test
    void modeFollowsTheTerminalUnlessThePropertySetsIt() {
        assertThat(TrainingProgress.mode(null, true)).isEqualTo(TrainingProgress.Mode.BAR);
        assertThat(TrainingProgress.mode(null, false)).isEqualTo(TrainingProgress.Mode.LINES);
        assertThat(TrainingProgress.mode(" off ", true)).isEqualTo(TrainingProgress.Mode.OFF);
        assertThat(TrainingProgress.mode("Lines", true)).isEqualTo(TrainingProgress.Mode.LINES);
        assertThatThrownBy(() -> TrainingProgress.mode("fancy", true))
                .hasMessageContaining("metisfl.progress is 'fancy'; use bar, lines or off");
    }
}
