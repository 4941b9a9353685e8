package org.metisfl.python;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Python learner process running {@code tests/integration/recording_learner.py} on the
 * interpreter the build names ({@code python.executable}, Debian's python3), with its output in a
 * log file and its records (global models received, updates sent) in a directory.
 */
final class PythonLearnerProcess implements AutoCloseable {
    final Path log;
    final Path records;
    private final Process process;

    private PythonLearnerProcess(Process process, Path log, Path records) {
        this.process = process;
        this.log = log;
        this.records = records;
    }

    static PythonLearnerProcess start(Path work, String name, String gateway, String... args)
            throws IOException {
        Path records = Files.createDirectories(work.resolve("records").resolve(name));
        Path log = work.resolve(name + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("python.executable", "python3"));
        cmd.add(
                Path.of(System.getProperty("python.tests", "tests"))
                        .resolve("integration/recording_learner.py")
                        .toString());
        cmd.addAll(List.of("--gateway", gateway, "--record", records.toString(), "--name", name));
        cmd.addAll(List.of(args));
        ProcessBuilder pb =
                new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
        return new PythonLearnerProcess(pb.start(), log, records);
    }

    /** Waits for the process to end; its exit code. */
    int await(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            throw new AssertionError("the Python learner did not end in " + seconds + " s");
        }
        return process.exitValue();
    }

    String output() throws IOException {
        return Files.readString(log);
    }

    /** A recorded model file (global-v1.f32, update-r2.f32, ...), or null if not written. */
    float[] floats(String file) throws IOException {
        return readFloats(records.resolve(file));
    }

    long examples(int round) throws IOException {
        return Long.parseLong(
                Files.readString(records.resolve("update-r" + round + ".examples")).trim());
    }

    static float[] readFloats(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / Float.BYTES];
        b.asFloatBuffer().get(v);
        return v;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
