package org.metisfl.flink.testutil;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.EmbeddedFederation;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.simulator.RawLearner;

/** Starts a federation job on an embedded MiniCluster with real gRPC gateways on 127.0.0.1. */
public final class FederationHarness implements AutoCloseable {
    /** Where {@link #freePorts} looks: below the kernel's ephemeral range. */
    private static final int FIRST_PORT = 20_000;

    private static final int LAST_PORT = 32_000;

    private final EmbeddedFederation federation;
    private final FederationConfig config;
    private final int basePort;

    private FederationHarness(EmbeddedFederation federation, FederationConfig config, int port) {
        this.federation = federation;
        this.config = config;
        this.basePort = port;
    }

    /** Starts a federation with these settings on top of test defaults. */
    public static FederationHarness start(Path workDir, Map<String, String> settings)
            throws Exception {
        return start(workDir, settings, -1);
    }

    /**
     * Starts a federation whose MiniCluster serves Flink's REST API and web UI on {@code webUiPort}
     * (-1: none).
     */
    public static FederationHarness start(Path workDir, Map<String, String> settings, int webUiPort)
            throws Exception {
        Map<String, String> s = new HashMap<>();
        int gateways = Integer.parseInt(settings.getOrDefault("gateway.parallelism", "1"));
        int port = freePorts(gateways);
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", workDir.resolve("results.jsonl").toString());
        s.put("job.checkpoint-interval", "200 ms");
        // Tests of other things run the learner port in plaintext with open admission; the
        // security ITCases turn TLS and admission on.
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        s.putAll(settings);
        FederationConfig config = FederationConfig.of(s);
        EmbeddedFederation f = EmbeddedFederation.start(config, webUiPort, workDir);
        try {
            f.awaitGatewaysReady(Duration.ofSeconds(60));
        } catch (Exception e) {
            f.close();
            throw e;
        }
        return new FederationHarness(f, config, port);
    }

    /** Resumes a federation from a savepoint, with the same configuration (and ports). */
    public static FederationHarness resume(Path workDir, FederationConfig config, String savepoint)
            throws Exception {
        EmbeddedFederation f = EmbeddedFederation.start(config, -1, workDir, savepoint);
        try {
            f.awaitGatewaysReady(Duration.ofSeconds(60));
        } catch (Exception e) {
            f.close();
            throw e;
        }
        return new FederationHarness(f, config, config.gatewayPort());
    }

    public int port(int gateway) {
        return basePort + gateway;
    }

    public RawLearner learner(int gateway) {
        return new RawLearner("127.0.0.1", port(gateway));
    }

    public FederationConfig config() {
        return config;
    }

    public EmbeddedFederation federation() {
        return federation;
    }

    public void awaitCompletion(Duration timeout) throws Exception {
        federation.awaitCompletion(timeout);
    }

    /** The results written so far, one per round (the last line of each round wins). */
    public List<RoundResult> results() throws IOException {
        return RoundResults.read(Path.of(config.resultsFile()));
    }

    /** Polls until {@code n} round results exist. */
    public List<RoundResult> awaitResults(int n, Duration timeout) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            List<RoundResult> r = results();
            if (r.size() >= n) {
                return r;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("only " + results().size() + " of " + n + " round results");
    }

    /**
     * The first of {@code count} consecutive free ports on the loopback address, below the kernel's
     * ephemeral range (32768 and up on Linux): a port taken from that range could be handed,
     * between this check and the gateway's bind, to a socket the MiniCluster or a client binds to
     * port 0, and the gateway would then fail to start over and over.
     */
    public static int freePorts(int count) throws IOException {
        java.util.Random random = new java.util.Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = FIRST_PORT + random.nextInt(LAST_PORT - FIRST_PORT - count);
            boolean free = true;
            for (int i = 0; i < count && free; i++) {
                try (ServerSocket s =
                        new ServerSocket(base + i, 1, InetAddress.getLoopbackAddress())) {
                    // free
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no " + count + " consecutive free ports");
    }

    @Override
    public void close() throws Exception {
        federation.close();
    }
}
