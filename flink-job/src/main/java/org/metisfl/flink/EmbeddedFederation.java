package org.metisfl.flink;

import io.grpc.ChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.connector.gateway.GatewayHealth;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;

/**
 * Runs a federation on an embedded Flink MiniCluster in this JVM (for trying it and for tests),
 * optionally with the Flink web UI.
 *
 * <pre>{@code
 * try (EmbeddedFederation f = EmbeddedFederation.start(config, 8081, Path.of("work"))) {
 *     // start learners against 127.0.0.1:<gateway.port>
 *     f.awaitCompletion(Duration.ofMinutes(10));
 * }
 * }</pre>
 */
public final class EmbeddedFederation implements AutoCloseable {
    private final JobClient client;
    private final int webUiPort;
    private final FederationConfig config;

    private EmbeddedFederation(JobClient client, int webUiPort, FederationConfig config) {
        this.client = client;
        this.webUiPort = webUiPort;
        this.config = config;
    }

    /**
     * Waits until every learner gateway answers gRPC health checks with SERVING (needs a fixed
     * {@code gateway.port}).
     */
    public void awaitGatewaysReady(Duration timeout) throws Exception {
        if (config.gatewayPort() == 0) {
            throw new IllegalStateException("gateway.port is 0: the gateways' ports are unknown");
        }
        long end = System.nanoTime() + timeout.toNanos();
        String host = "0.0.0.0".equals(config.gatewayHost()) ? "127.0.0.1" : config.gatewayHost();
        ChannelCredentials credentials = GatewayHealth.credentialsFor(GatewaySecurity.from(config));
        for (int i = 0; i < config.gatewayParallelism(); i++) {
            GatewayHealth.awaitServing(
                    host,
                    config.gatewayPort() + i,
                    credentials,
                    Duration.ofNanos(Math.max(0, end - System.nanoTime())),
                    () -> {
                        if (client.getJobExecutionResult().isDone()) {
                            client.getJobExecutionResult().get(10, TimeUnit.SECONDS);
                            throw new IllegalStateException(
                                    "the federation job ended before its gateways started");
                        }
                    });
        }
    }

    /**
     * Submits the federation job to a new MiniCluster.
     *
     * @param webUiPort port of the Flink web UI, or -1 for none
     * @param workDir where checkpoints and temporary files go
     */
    public static EmbeddedFederation start(FederationConfig config, int webUiPort, Path workDir)
            throws Exception {
        return start(config, webUiPort, workDir, null);
    }

    /**
     * Submits the federation job to a new MiniCluster, resuming from a savepoint if {@code
     * savepoint} is not null.
     */
    public static EmbeddedFederation start(
            FederationConfig config, int webUiPort, Path workDir, String savepoint)
            throws Exception {
        Files.createDirectories(workDir);
        Path tmp = Files.createDirectories(workDir.resolve("tmp"));
        Configuration flink = FederationPipeline.flinkConfiguration(config);
        flink.set(CoreOptions.TMP_DIRS, tmp.toAbsolutePath().toString());
        flink.set(WebOptions.UPLOAD_DIR, tmp.toAbsolutePath().toString());
        if (config.checkpointDir().isEmpty()) {
            flink.set(
                    CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                    workDir.resolve("checkpoints").toAbsolutePath().toUri().toString());
        }
        if (savepoint != null) {
            flink.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
        }
        // The web UI and REST API answer this machine only, unless the caller says otherwise.
        if (!flink.contains(RestOptions.BIND_ADDRESS)) {
            flink.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
            flink.set(RestOptions.ADDRESS, "127.0.0.1");
        }
        StreamExecutionEnvironment env;
        if (webUiPort >= 0) {
            flink.set(RestOptions.PORT, webUiPort);
            env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(flink);
        } else {
            flink.set(RestOptions.BIND_PORT, "0");
            env = StreamExecutionEnvironment.createLocalEnvironment(flink);
        }
        env.setParallelism(config.jobParallelism());
        FederationPipeline.build(env, config);
        JobClient client = env.executeAsync("MetisFL federation " + config.name());
        return new EmbeddedFederation(client, webUiPort, config);
    }

    /** The web UI's address, if it has one. */
    public String webUiAddress() {
        return webUiPort >= 0 ? "http://localhost:" + webUiPort : "(no web UI)";
    }

    /** The job's status; FINISHED or FAILED once it has ended (its MiniCluster is then gone). */
    public JobStatus status() throws Exception {
        var result = client.getJobExecutionResult();
        if (result.isDone()) {
            return result.isCompletedExceptionally() ? JobStatus.FAILED : JobStatus.FINISHED;
        }
        return client.getJobStatus().get(10, TimeUnit.SECONDS);
    }

    /** Waits until the federation ends; throws if the job failed or the time ran out. */
    public JobExecutionResult awaitCompletion(Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        return client.getJobExecutionResult().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Stops the federation with a savepoint in {@code directory}; returns the savepoint's path,
     * from which {@link #start(FederationConfig, int, Path, String)} resumes it.
     */
    public String stopWithSavepoint(Path directory) throws Exception {
        return client.stopWithSavepoint(
                        false,
                        directory.toAbsolutePath().toUri().toString(),
                        SavepointFormatType.CANONICAL)
                .get(2, TimeUnit.MINUTES);
    }

    /** Cancels the job if it is still running. */
    @Override
    public void close() throws Exception {
        if (client.getJobExecutionResult().isDone()) {
            return;
        }
        try {
            client.cancel().get(30, TimeUnit.SECONDS);
            client.getJobExecutionResult().handle((r, e) -> null).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | IllegalStateException e) {
            // the job (and its MiniCluster) is already gone
        }
    }
}
