package org.metisfl.flink;

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
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.metisfl.flink.config.FederationConfig;

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

    private EmbeddedFederation(JobClient client, int webUiPort) {
        this.client = client;
        this.webUiPort = webUiPort;
    }

    /**
     * Submits the federation job to a new MiniCluster.
     *
     * @param webUiPort port of the Flink web UI, or -1 for none
     * @param workDir where checkpoints and temporary files go
     */
    public static EmbeddedFederation start(FederationConfig config, int webUiPort, Path workDir)
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
        return new EmbeddedFederation(client, webUiPort);
    }

    /** The web UI's address, if it has one. */
    public String webUiAddress() {
        return webUiPort >= 0 ? "http://localhost:" + webUiPort : "(no web UI)";
    }

    public JobStatus status() throws Exception {
        return client.getJobStatus().get(10, TimeUnit.SECONDS);
    }

    /** Waits until the federation ends; throws if the job failed or the time ran out. */
    public JobExecutionResult awaitCompletion(Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        return client.getJobExecutionResult().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Cancels the job if it is still running. */
    @Override
    public void close() throws Exception {
        try {
            JobStatus s = client.getJobStatus().get(10, TimeUnit.SECONDS);
            if (!s.isTerminalState()) {
                client.cancel().get(30, TimeUnit.SECONDS);
            }
        } catch (ExecutionException e) {
            // the job (and its MiniCluster) is already gone
        }
    }
}
