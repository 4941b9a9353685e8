package org.metisfl.learner.progress;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * How a learner shows its local training: a progress bar per epoch on a terminal (batches, loss,
 * throughput), plain lines when its output goes to a log, and the totals for a summary at the end.
 *
 * <pre>{@code
 * TrainingProgress progress = TrainingProgress.auto(LOG::info);
 * try (TrainingProgress.Epoch epoch = progress.epoch(round, 1, epochs, batchesPerEpoch)) {
 *     for (DataSet batch : batches) {
 *         network.fit(batch);
 *         epoch.batch(batch.numExamples(), network.score());
 *     }
 * }
 * }</pre>
 *
 * <p>{@link #auto} draws a bar only when the process has a terminal ({@code System.console()}); the
 * system property {@code metisfl.progress} ({@code bar}, {@code lines} or {@code off}) forces a
 * mode. Either way the end of an epoch is one line to the given sink, so log files keep it. Used
 * from the learner's one training thread; {@link #totals()} may be read from any thread.
 */
public final class TrainingProgress {
    /** Plain lines during an epoch at most this often (an epoch's end always has its line). */
    public static final Duration DEFAULT_LINE_INTERVAL = Duration.ofSeconds(30);

    /** How progress is shown while an epoch runs. */
    public enum Mode {
        /** A progress bar on the terminal (stderr), redrawn in place. */
        BAR,
        /** A line now and then, for log files. */
        LINES,
        /** Only the line at an epoch's end. */
        OFF
    }

    /** What all epochs so far added up to. */
    public record Totals(long epochs, long batches, long examples, double seconds) {
        /** Examples per second of training, 0 before any. */
        public double examplesPerSecond() {
            return seconds > 0 ? examples / seconds : 0;
        }

        /** E.g. "3 epochs, 1407 batches, 45000 examples in 61.2 s (735 examples/s)". */
        public String describe() {
            return String.format(
                    Locale.ROOT,
                    "%d epoch%s, %d batches, %d examples in %.1f s (%.0f examples/s)",
                    epochs,
                    epochs == 1 ? "" : "s",
                    batches,
                    examples,
                    seconds,
                    examplesPerSecond());
        }
    }

    private final Mode mode;
    private final Consumer<String> lines;
    private final PrintStream terminal;
    private final LongSupplier nanoTime;
    private final Duration lineInterval;

    private volatile Totals totals = new Totals(0, 0, 0, 0);

    TrainingProgress(
            Mode mode,
            Consumer<String> lines,
            PrintStream terminal,
            LongSupplier nanoTime,
            Duration lineInterval) {
        this.mode = Objects.requireNonNull(mode, "mode");
        this.lines = Objects.requireNonNull(lines, "lines");
        this.terminal = terminal;
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
        this.lineInterval = Objects.requireNonNull(lineInterval, "lineInterval");
    }

    /**
     * A bar on a terminal, else lines; {@code -Dmetisfl.progress=bar|lines|off} overrides.
     *
     * @param lines where the epoch lines go (typically a logger's {@code info})
     */
    public static TrainingProgress auto(Consumer<String> lines) {
        return of(mode(System.getProperty("metisfl.progress"), System.console() != null), lines);
    }

    /** The mode for a {@code metisfl.progress} value (null: by {@code terminal}). */
    static Mode mode(String property, boolean terminal) {
        if (property == null || property.isBlank()) {
            return terminal ? Mode.BAR : Mode.LINES;
        }
        try {
            return Mode.valueOf(property.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "metisfl.progress is '"
                            + property
                            + "'; use bar, lines or off (or leave it unset: a bar on a"
                            + " terminal, lines otherwise)");
        }
    }

    /** Progress in the given mode; a bar draws on stderr. */
    public static TrainingProgress of(Mode mode, Consumer<String> lines) {
        return new TrainingProgress(
                mode, lines, System.err, System::nanoTime, DEFAULT_LINE_INTERVAL);
    }

    /** Lines only, with the given clock and interval (tests, embedding). */
    public static TrainingProgress lines(
            Consumer<String> lines, LongSupplier nanoTime, Duration interval) {
        return new TrainingProgress(Mode.LINES, lines, null, nanoTime, interval);
    }

    /** A bar drawn on {@code terminal} (tests, embedding). */
    public static TrainingProgress bar(Consumer<String> lines, PrintStream terminal) {
        return new TrainingProgress(
                Mode.BAR, lines, terminal, System::nanoTime, DEFAULT_LINE_INTERVAL);
    }

    /** The terminal's width from {@code COLUMNS}, else 100 columns. */
    static int terminalWidth() {
        try {
            int columns = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "100"));
            return columns >= 40 ? columns - 1 : 100;
        } catch (NumberFormatException e) {
            return 100;
        }
    }

    public Mode mode() {
        return mode;
    }

    /** Every epoch ended so far, added up. */
    public Totals totals() {
        return totals;
    }

    /**
     * Starts an epoch of local training.
     *
     * @param totalBatches the batches expected, or 0 if unknown
     */
    public Epoch epoch(long round, int epoch, int epochs, long totalBatches) {
        return new Epoch(
                String.format(Locale.ROOT, "round %d: epoch %d/%d", round, epoch, epochs),
                totalBatches);
    }

    /** A run of local steps that is not a whole number of epochs (semi-synchronous rounds). */
    public Epoch steps(long round, long steps) {
        return new Epoch(
                String.format(Locale.ROOT, "round %d: %d local steps", round, steps), steps);
    }

    /** One epoch (or run of steps) in progress; {@link #close()} ends it with its line. */
    public final class Epoch implements AutoCloseable {
        private final String name;
        private final long totalBatches;
        private final long start;
        private final ProgressBar bar;
        private long batches;
        private long examples;
        private double weightedLoss;
        private long lastLine;
        private boolean closed;

        private Epoch(String name, long totalBatches) {
            this.name = name;
            this.totalBatches = Math.max(0, totalBatches);
            this.start = nanoTime.getAsLong();
            this.lastLine = start;
            this.bar =
                    mode == Mode.BAR && terminal != null
                            ? new ProgressBarBuilder()
                                    .setTaskName(name)
                                    .setInitialMax(this.totalBatches > 0 ? this.totalBatches : -1)
                                    .setUnit(" batches", 1)
                                    .setStyle(ProgressBarStyle.ASCII)
                                    .setUpdateIntervalMillis(250)
                                    .showSpeed()
                                    .setConsumer(
                                            new ConsoleProgressBarConsumer(
                                                    terminal, terminalWidth()))
                                    .clearDisplayOnFinish()
                                    .build()
                            : null;
        }

        /** One mini-batch done: its examples and its mean loss. */
        public void batch(int batchExamples, double loss) {
            batches++;
            examples += batchExamples;
            weightedLoss += loss * batchExamples;
            long now = nanoTime.getAsLong();
            if (bar != null) {
                bar.step();
                bar.setExtraMessage(
                        String.format(
                                Locale.ROOT,
                                " loss %.4f, %.0f ex/s",
                                meanLoss(),
                                examples / Math.max(1e-9, (now - start) / 1e9)));
            } else if (mode == Mode.LINES && now - lastLine >= lineInterval.toNanos()) {
                lastLine = now;
                lines.accept(line(now, "so far"));
            }
        }

        /** Mean loss over the examples so far (NaN before the first batch). */
        public double meanLoss() {
            return examples == 0 ? Double.NaN : weightedLoss / examples;
        }

        /** Ends the epoch: closes the bar and writes the epoch's line. Idempotent. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (bar != null) {
                bar.close();
            }
            long now = nanoTime.getAsLong();
            Totals t = totals;
            totals =
                    new Totals(
                            t.epochs() + 1,
                            t.batches() + batches,
                            t.examples() + examples,
                            t.seconds() + (now - start) / 1e9);
            lines.accept(line(now, null));
        }

        private String line(long now, String note) {
            double seconds = (now - start) / 1e9;
            String of = totalBatches > 0 ? "/" + totalBatches : "";
            return String.format(
                    Locale.ROOT,
                    "%s%s, %d%s batches, mean loss %.4f, %.0f examples/s, %.1f s",
                    name,
                    note == null ? "" : " (" + note + ")",
                    batches,
                    of,
                    meanLoss(),
                    seconds > 0 ? examples / seconds : 0,
                    seconds);
        }
    }
}
