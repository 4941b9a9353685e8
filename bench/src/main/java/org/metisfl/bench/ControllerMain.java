package org.metisfl.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;

/**
 * The controller process of an end-to-end benchmark: runs one federation on an embedded MiniCluster
 * and reports its own memory, so the figures are the controller's alone (the simulated learners run
 * in the driver's JVM). Protocol on stdout/stdin, one line each:
 *
 * <pre>
 * out: READY                      gateways serve
 * in:  gc                         full GC now
 * out: GC heapUsedAfterGc         bytes
 * in:  stop                       cancel the job if still running
 * out: STATS peakRssBytes peakHeapUsedBytes
 * out: DONE ok|error message      the job ended by itself
 * </pre>
 *
 * Usage: {@code ControllerMain <workDir> key=value...} (federation settings).
 */
public final class ControllerMain {
    private ControllerMain() {}

    public static void main(String[] args) throws Exception {
        Path workDir = Path.of(args[0]);
        Map<String, String> settings = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        FederationConfig config = FederationConfig.of(settings);
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        AtomicLong peakHeap = new AtomicLong();
        Thread sampler =
                new Thread(
                        () -> {
                            while (true) {
                                peakHeap.accumulateAndGet(
                                        memory.getHeapMemoryUsage().getUsed(), Math::max);
                                try {
                                    Thread.sleep(100);
                                } catch (InterruptedException e) {
                                    return;
                                }
                            }
                        },
                        "bench-memory-sampler");
        sampler.setDaemon(true);
        sampler.start();

        EmbeddedFederation federation = EmbeddedFederation.start(config, -1, workDir);
        federation.awaitGatewaysReady(Duration.ofSeconds(120));
        System.out.println("READY");
        System.out.flush();
        Thread waiter =
                new Thread(
                        () -> {
                            String outcome;
                            try {
                                federation.awaitCompletion(Duration.ofHours(1));
                                outcome = "ok";
                            } catch (Exception e) {
                                outcome = "error " + e;
                            }
                            synchronized (System.out) {
                                System.out.println("DONE " + outcome.replace('\n', ' '));
                                System.out.flush();
                            }
                        },
                        "bench-job-waiter");
        waiter.setDaemon(true);
        waiter.start();

        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("gc")) {
                System.gc();
                System.gc();
                long used = memory.getHeapMemoryUsage().getUsed();
                synchronized (System.out) {
                    System.out.println("GC " + used);
                    System.out.flush();
                }
            } else if (line.equals("stop")) {
                break;
            }
        }
        federation.close();
        synchronized (System.out) {
            System.out.println("STATS " + peakRss() + " " + peakHeap.get());
            System.out.flush();
        }
        System.exit(0);
    }

    /** VmHWM: the process's peak resident set size. */
    static long peakRss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception e) {
            // not Linux: no figure
        }
        return -1;
    }
}
