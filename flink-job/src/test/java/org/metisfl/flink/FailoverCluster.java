package org.metisfl.flink;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.metisfl.flink.config.FederationConfig;

/**
 * A MiniCluster running one federation job, for the tests that kill a task manager in the middle of
 * a federation: one task manager with four slots (so losing it fails every subtask at once),
 * checkpoints and temporary files under the test's directory, the REST endpoint on 127.0.0.1 at a
 * free port, and fixed-delay restarts (5 attempts, 500 ms apart), so the job restarts from its last
 * completed checkpoint once a new task manager is there. Also used by learner-client's ITCases
 * (flink-job's test-jar).
 */
public final class FailoverCluster implements AutoCloseable {

    private final MiniCluster cluster;
    private final JobID job;

    private FailoverCluster(MiniCluster cluster, JobID job) {
        this.cluster = cluster;
        this.job = job;
    }

    /** Starts the cluster and submits the federation job {@code config} describes. */
    public static FailoverCluster submit(FederationConfig config, Path work) throws Exception {
        return submit(config, work, flink -> {});
    }

    /**
     * As {@link #submit(FederationConfig, Path)}, with {@code settings} adding Flink settings of
     * the test's own (a metric reporter, say) to the cluster's configuration.
     */
    public static FailoverCluster submit(
            FederationConfig config, Path work, Consumer<Configuration> settings) throws Exception {
        Configuration flink = FederationPipeline.flinkConfiguration(config);
        settings.accept(flink);
        flink.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                work.resolve("checkpoints").toUri().toString());
        flink.set(CoreOptions.TMP_DIRS, work.toAbsolutePath().toString());
        flink.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        flink.set(RestOptions.BIND_PORT, "0");
        flink.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        flink.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 5);
        flink.set(
                RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(500));
        MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setConfiguration(flink)
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(4)
                                .build());
        try {
            cluster.start();
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.getExecutionEnvironment(flink);
            env.setParallelism(config.jobParallelism());
            FederationPipeline.build(env, config);
            JobID job =
                    cluster.submitJob(env.getStreamGraph().getJobGraph())
                            .get(60, TimeUnit.SECONDS)
                            .getJobID();
            return new FailoverCluster(cluster, job);
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * Terminates the task manager, which fails every subtask of the job at once (gateways,
     * aggregators, coordinator), and starts a new one for the job to restart on.
     */
    public void replaceTaskManager() throws Exception {
        cluster.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
        cluster.startTaskManager();
    }

    /** The federation job's id (for Flink's REST API). */
    public JobID jobId() {
        return job;
    }

    /** The port of Flink's REST endpoint on 127.0.0.1. */
    public int restPort() throws Exception {
        return cluster.getRestAddress().get().getPort();
    }

    /** The federation job's result, once it has ended (finished, failed or cancelled). */
    public CompletableFuture<JobResult> jobResult() {
        return cluster.requestJobResult(job);
    }

    /** Cancels the federation job; the future fails if the job has ended already. */
    public CompletableFuture<?> cancelJob() {
        return cluster.cancelJob(job);
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
