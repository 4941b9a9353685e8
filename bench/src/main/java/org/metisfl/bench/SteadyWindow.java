package org.metisfl.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * What an asynchronous scenario costs per update once every learner has joined: sampled once a
 * second (acknowledged updates, the simulated learners' CPU, the controller's CPU and the whole
 * machine's), then read over the window from the first sample with every learner joined to the
 * first with 99% of the run's acknowledgements. The join phase and the shutdown tail are left out,
 * so the figures are the steady state's: updates per second, and the CPU milliseconds each update
 * costs the learners and the controller. Their sum says what this machine allows: with both sharing
 * its cores and nothing else running, {@code cores / (learners + controller ms per update)} updates
 * per second at most.
 */
final class SteadyWindow implements AutoCloseable {
    /** One sample. */
    record Sample(
            long nanos,
            int joined,
            long acks,
            double learnersCpu,
            double controllerCpu,
            double machineBusy) {}

    /**
     * The window's figures.
     *
     * @param seconds the window's length
     * @param acks updates acknowledged in it
     * @param learnersCpu CPU seconds of the simulated learners (driver JVM) in it
     * @param controllerCpu CPU seconds of the controller process in it
     * @param machineCpu CPU seconds of the whole machine in it (NaN if unknown)
     */
    record Result(
            double seconds,
            long acks,
            double learnersCpu,
            double controllerCpu,
            double machineCpu) {

        double updatesPerSecond() {
            return acks / seconds;
        }

        double learnersMsPerUpdate() {
            return 1000 * learnersCpu / acks;
        }

        double controllerMsPerUpdate() {
            return 1000 * controllerCpu / acks;
        }

        /** Cores used by processes other than the two (other engineers' work, the OS). */
        double otherCores() {
            return (machineCpu - learnersCpu - controllerCpu) / seconds;
        }

        /** Updates per second at which learners and controller would use every core. */
        double ceiling(int cores) {
            return cores * 1000.0 / (learnersMsPerUpdate() + controllerMsPerUpdate());
        }
    }

    private final List<Sample> samples = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stop;

    SteadyWindow(
            IntSupplier joined,
            LongSupplier acks,
            DoubleSupplier learnersCpu,
            DoubleSupplier controllerCpu) {
        thread =
                new Thread(
                        () -> {
                            while (!stop) {
                                Sample s =
                                        new Sample(
                                                System.nanoTime(),
                                                joined.getAsInt(),
                                                acks.getAsLong(),
                                                learnersCpu.getAsDouble(),
                                                controllerCpu.getAsDouble(),
                                                machineBusySeconds());
                                synchronized (samples) {
                                    samples.add(s);
                                }
                                try {
                                    Thread.sleep(1000);
                                } catch (InterruptedException e) {
                                    return;
                                }
                            }
                        },
                        "bench-steady-window");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.interrupt();
        thread.join(5_000);
    }

    /** The steady window of the samples so far, or null if it is shorter than two samples. */
    Result result(int learners) {
        List<Sample> s;
        synchronized (samples) {
            s = new ArrayList<>(samples);
        }
        return window(s, learners);
    }

    static Result window(List<Sample> s, int learners) {
        if (s.isEmpty()) {
            return null;
        }
        long total = s.get(s.size() - 1).acks;
        int from = -1;
        for (int i = 0; i < s.size(); i++) {
            if (s.get(i).joined >= learners) {
                from = i;
                break;
            }
        }
        if (from < 0) {
            return null;
        }
        int to = -1;
        for (int i = from + 1; i < s.size(); i++) {
            if (s.get(i).acks >= 0.99 * total) {
                to = i;
                break;
            }
        }
        if (to < 0 || s.get(to).acks <= s.get(from).acks) {
            return null;
        }
        Sample a = s.get(from);
        Sample b = s.get(to);
        return new Result(
                (b.nanos - a.nanos) / 1e9,
                b.acks - a.acks,
                b.learnersCpu - a.learnersCpu,
                b.controllerCpu - a.controllerCpu,
                b.machineBusy - a.machineBusy);
    }

    /** CPU seconds every core of the machine spent not idle since boot (NaN if unknown). */
    static double machineBusySeconds() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("cpu ")) {
                    String[] f = line.trim().split("\\s+");
                    long busy = 0;
                    // user nice system idle iowait irq softirq steal
                    for (int i = 1; i <= 8 && i < f.length; i++) {
                        if (i != 4 && i != 5) {
                            busy += Long.parseLong(f[i]);
                        }
                    }
                    return busy / 100.0; // USER_HZ
                }
            }
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }

    static String format(double v, String pattern) {
        return Double.isNaN(v) || Double.isInfinite(v)
                ? "–"
                : String.format(Locale.ROOT, pattern, v);
    }
}
