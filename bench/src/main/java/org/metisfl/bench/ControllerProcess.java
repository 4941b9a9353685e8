package org.metisfl.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ControllerMain} child process and its line protocol. Its classpath is the driver's, or
 * another build's (the before side of {@code bench/run --baseline}).
 */
final class ControllerProcess implements Controller {
    private final Process process;
    private final Writer in;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> log = new ArrayList<>();

    ControllerProcess(
            Path workDir,
            Map<String, String> settings,
            String heap,
            List<String> jvmExtra,
            String classpath)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + heap);
        cmd.add("-XX:+UseG1GC");
        cmd.add(
                "-Dlog4j2.configurationFile="
                        + System.getProperty(
                                "metisfl.bench.controllerLog",
                                "bench/conf/log4j2-controller.properties"));
        cmd.add("-Dmetisfl.bench.logDir=" + workDir.toAbsolutePath());
        Path tmp = java.nio.file.Files.createDirectories(workDir.resolve("tmp"));
        cmd.add("-Djava.io.tmpdir=" + tmp.toAbsolutePath());
        cmd.addAll(jvmExtra);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(ControllerMain.class.getName());
        cmd.add(workDir.toAbsolutePath().toString());
        settings.forEach((k, v) -> cmd.add(k + "=" + v));
        process =
                new ProcessBuilder(cmd)
                        .redirectError(workDir.resolve("controller.stderr").toFile())
                        .start();
        in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader =
                new Thread(
                        () -> {
                            try (BufferedReader r =
                                    new BufferedReader(
                                            new InputStreamReader(
                                                    process.getInputStream(),
                                                    StandardCharsets.UTF_8))) {
                                String l;
                                while ((l = r.readLine()) != null) {
                                    lines.add(l);
                                }
                            } catch (IOException e) {
                                // the process ended
                            }
                            lines.add("EOF");
                        },
                        "bench-controller-reader");
        reader.setDaemon(true);
        reader.start();
    }

    long pid() {
        return process.pid();
    }

    /** Waits for a line starting with {@code prefix}; returns its rest, or throws. */
    String await(String prefix, long timeoutMs) throws Exception {
        long end = System.currentTimeMillis() + timeoutMs;
        while (true) {
            long left = end - System.currentTimeMillis();
            String l = left <= 0 ? null : lines.poll(left, TimeUnit.MILLISECONDS);
            if (l == null) {
                throw new IllegalStateException(
                        "controller: no '" + prefix + "' within " + timeoutMs + " ms; saw " + log);
            }
            log.add(l);
            if (l.startsWith(prefix)) {
                return l.substring(prefix.length()).trim();
            }
            if (l.equals("EOF")) {
                throw new IllegalStateException(
                        "controller ended before '" + prefix + "'; saw " + log);
            }
        }
    }

    void send(String command) throws IOException {
        in.write(command + "\n");
        in.flush();
    }

    @Override
    public void awaitReady() throws Exception {
        await("READY", 180_000);
    }

    /** Full GC in the controller; the heap still used after it. */
    @Override
    public long heapAfterGc() throws Exception {
        send("gc");
        return Long.parseLong(await("GC ", 60_000));
    }

    /** Stops the job; returns {peak RSS, peak heap used}. */
    @Override
    public long[] stop() throws Exception {
        send("stop");
        String[] s = await("STATS ", 120_000).split(" ");
        process.waitFor(30, TimeUnit.SECONDS);
        return new long[] {Long.parseLong(s[0]), Long.parseLong(s[1])};
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
