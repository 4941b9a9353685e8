package org.metisfl.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.metisfl.transport.DevCertificates;
import org.metisfl.transport.TransportConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code metisfl certs}: a development CA, the gateway's TLS certificate and learner client
 * certificates, made with the JDK and BouncyCastle (no openssl).
 */
@Command(
        name = "certs",
        mixinStandardHelpOptions = true,
        description = {
            "Creates development certificates: a CA, a TLS certificate for the learner gateway"
                    + " (localhost, 127.0.0.1 and each --host), a certificate for the job's own"
                    + " control traffic, and a client certificate per --learner (mutual TLS).",
            "Run it again with --learner NAME to add learners to an existing CA.",
            "For development and trials: production federations use their organisation's CA."
        })
final class CertsCommand implements Callable<Integer> {

    @CommandLine.ParentCommand MetisflCli root;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--dir",
            paramLabel = "DIR",
            description = "Folder of the certificates (default: work/certs).")
    Path dir;

    @Option(
            names = "--host",
            paramLabel = "HOST",
            description = "Another name or address of the gateway's machines (repeatable).")
    List<String> hosts = new ArrayList<>();

    @Option(
            names = "--learner",
            paramLabel = "NAME",
            description = "Issue a client certificate with this common name (repeatable).")
    List<String> learners = new ArrayList<>();

    @Option(
            names = "--valid-days",
            paramLabel = "DAYS",
            defaultValue = "30",
            description = "Validity of new certificates in days (default: ${DEFAULT-VALUE}).")
    int validDays;

    @Option(
            names = "--flink-ssl",
            paramLabel = "DIR",
            description =
                    "Also create keystores for Flink's internal and REST SSL in DIR, issued by"
                            + " this CA (what bin/flink-cluster start --ssl uses).")
    Path flinkSsl;

    @Override
    public Integer call() {
        if (validDays < 1 || validDays > 3650) {
            throw new CliException(
                    "--valid-days must be between 1 and 3650, not " + validDays,
                    CliException.USAGE);
        }
        Path folder = resolve(dir == null ? Path.of("work", "certs") : dir);
        DevCertificates pki = DevCertificates.in(folder);
        Duration validity = Duration.ofDays(validDays);
        try {
            if (pki.exists()) {
                if (!hosts.isEmpty()) {
                    throw new CliException(
                            "a CA already exists in "
                                    + folder
                                    + "; --host applies only when it is created: delete the"
                                    + " folder to start over with other host names",
                            CliException.USAGE);
                }
                out().println("Using the development CA in " + folder);
            } else {
                pki.createAuthority(hosts, validity);
                out().println("Created a development CA in " + folder);
                out().println("  gateway certificate: " + pki.gatewayCertificate());
                out().println("  gateway key:         " + pki.gatewayKey());
                out().println("  CA (learners trust): " + pki.caCertificate());
            }
            for (String learner : learners) {
                pki.issueLearner(learner, validity);
                out().println("  learner '" + learner + "': " + pki.learnerCertificate(learner));
            }
        } catch (TransportConfigException e) {
            throw new CliException(e.getMessage(), CliException.USAGE);
        }
        if (flinkSsl != null) {
            Path ssl = resolve(flinkSsl);
            try {
                FlinkSslFiles.create(pki, ssl, hosts, validity);
            } catch (java.io.IOException | java.security.GeneralSecurityException e) {
                throw new CliException("cannot write Flink's keystores to " + ssl + ": " + e);
            }
            out().println("Flink SSL keystores (internal and REST) in " + ssl);
        }
        out().println(
                        "Use them with: --set security.tls.certificate="
                                + pki.gatewayCertificate()
                                + " --set security.tls.private-key="
                                + pki.gatewayKey());
        out().flush();
        return 0;
    }

    private Path resolve(Path p) {
        return root.environment().workingDir().resolve(p).normalize();
    }

    private java.io.PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
