package org.metisfl.cli;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.metisfl.cli.FlinkRestClient.GatewayControl;
import org.metisfl.cli.FlinkRestClient.JobInfo;
import org.metisfl.cli.JobRecords.JobRecord;
import org.metisfl.flink.connector.gateway.security.PinnedCertificateTrust;
import org.metisfl.proto.v1.GatewayOperatorServiceGrpc;
import org.metisfl.transport.BearerToken;
import org.metisfl.transport.OperatorTokens;
import org.metisfl.transport.TransportConfigException;

/**
 * How {@code learners list|revoke} reach a job's gateways: their control endpoints and certificate
 * fingerprints from the job's metrics (over the Flink REST API, the operator's door), TLS pinned to
 * that fingerprint, and an operator token made with the operator key.
 */
final class LearnersOperator implements AutoCloseable {
    /** One gateway's operator service. */
    record Gateway(
            GatewayControl control,
            GatewayOperatorServiceGrpc.GatewayOperatorServiceBlockingStub stub) {}

    private final List<ManagedChannel> channels = new ArrayList<>();
    final JobInfo job;
    final List<Gateway> gateways = new ArrayList<>();

    private LearnersOperator(JobInfo job) {
        this.job = job;
    }

    /**
     * The gateways of the job ({@code jobId}, or the one running), waiting up to {@code wait} for
     * the REST API to publish their control endpoints.
     */
    static LearnersOperator open(
            ClusterCommand command, String jobId, String operatorKey, Duration wait) {
        JobInfo job = command.resolveJob(jobId);
        if (!job.isActive()) {
            throw new CliException(
                    "job "
                            + job.id()
                            + " '"
                            + job.federation()
                            + "' is "
                            + job.state()
                            + ": its gateways are gone");
        }
        OperatorTokens tokens;
        try {
            tokens = OperatorTokens.fromKeyFile(keyFile(command, job, operatorKey));
        } catch (TransportConfigException e) {
            throw new CliException("operator key: " + e.getMessage(), CliException.USAGE);
        }
        long end = System.nanoTime() + wait.toNanos();
        List<GatewayControl> controls = command.flink().gatewayControls(job.id(), job.federation());
        while (controls.isEmpty() && System.nanoTime() < end) {
            ClusterCommand.sleep(Duration.ofSeconds(1));
            controls = command.flink().gatewayControls(job.id(), job.federation());
        }
        if (controls.isEmpty()) {
            throw new CliException(
                    "the gateways of job "
                            + job.id()
                            + " have not published their control endpoints (metrics"
                            + " controlEndpoint) within "
                            + wait.toSeconds()
                            + " s; the REST API fetches metrics every"
                            + " metrics.fetcher.update-interval: try again");
        }
        LearnersOperator op = new LearnersOperator(job);
        for (GatewayControl c : controls) {
            int colon = c.endpoint().lastIndexOf(':');
            ManagedChannel ch =
                    NettyChannelBuilder.forAddress(
                                    c.endpoint().substring(0, colon),
                                    Integer.parseInt(c.endpoint().substring(colon + 1)),
                                    TlsChannelCredentials.newBuilder()
                                            .trustManager(
                                                    new PinnedCertificateTrust(c.fingerprint()))
                                            .build())
                            .build();
            op.channels.add(ch);
            op.gateways.add(
                    new Gateway(
                            c,
                            GatewayOperatorServiceGrpc.newBlockingStub(ch)
                                    .withCallCredentials(
                                            BearerToken.credentials(
                                                    () -> tokens.issue(Instant.now()), false))));
        }
        return op;
    }

    /** The stub of a gateway, with a deadline for one call. */
    static GatewayOperatorServiceGrpc.GatewayOperatorServiceBlockingStub call(
            Gateway g, Duration timeout) {
        return g.stub().withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A gateway's refusal as the user can act on it. */
    static CliException refused(Gateway g, StatusRuntimeException e) {
        return new CliException(
                "gateway "
                        + g.control().index()
                        + " ("
                        + g.control().endpoint()
                        + ") refused: "
                        + e.getStatus().getCode()
                        + (e.getStatus().getDescription() == null
                                ? ""
                                : ": " + e.getStatus().getDescription()));
    }

    /** The operator key: the option, else the job's operator or enrollment key as submitted. */
    private static Path keyFile(ClusterCommand command, JobInfo job, String option) {
        if (option != null) {
            return command.env().resolve(option);
        }
        JobRecord record = command.records().find(job.id()).orElse(null);
        Map<String, String> settings =
                record != null && record.settings != null ? record.settings : Map.of();
        String key = settings.get("security.operator-key");
        if (key == null) {
            key = settings.get("security.enrollment-key");
        }
        if (key == null || !Files.isRegularFile(Path.of(key))) {
            throw new CliException(
                    "no operator key known for job "
                            + job.id()
                            + (key == null ? "" : " (" + key + " is not here)")
                            + "; pass --operator-key FILE (the job's security.operator-key, by"
                            + " default its security.enrollment-key)",
                    CliException.USAGE);
        }
        return Path.of(key);
    }

    @Override
    public void close() {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
    }
}
