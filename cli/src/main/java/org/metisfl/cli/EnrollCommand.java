package org.metisfl.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.concurrent.Callable;
import org.metisfl.transport.EnrollmentTokens;
import org.metisfl.transport.TransportConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code metisfl enroll init|create}: the operator's admission credentials for learners. */
@Command(
        name = "enroll",
        mixinStandardHelpOptions = true,
        description = {
            "Admission of learners by enrollment token: 'init' creates the federation's enrollment"
                    + " key (the job reads it: security.enrollment-key), 'create' issues a token"
                    + " that admits --uses learners (0 = any number) until it expires."
        },
        subcommands = {EnrollCommand.Init.class, EnrollCommand.Create.class})
final class EnrollCommand {

    @CommandLine.ParentCommand MetisflCli root;

    static Path defaultKey() {
        return Path.of("work", "certs", "enrollment.key");
    }

    /** {@code metisfl enroll init}. */
    @Command(
            name = "init",
            mixinStandardHelpOptions = true,
            description = "Creates a new enrollment key file (readable by its owner only).")
    static final class Init implements Callable<Integer> {
        @CommandLine.ParentCommand EnrollCommand parent;
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--key",
                paramLabel = "FILE",
                description = "Key file (default: work/certs/enrollment.key).")
        Path key;

        @Override
        public Integer call() {
            Path file = parent.resolve(key);
            try {
                EnrollmentTokens.createKeyFile(file);
            } catch (TransportConfigException e) {
                throw new CliException(e.getMessage(), CliException.USAGE);
            }
            spec.commandLine()
                    .getOut()
                    .println(
                            "Created enrollment key "
                                    + file
                                    + "; give it to the job with --set security.enrollment-key="
                                    + file);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** {@code metisfl enroll create}. */
    @Command(
            name = "create",
            mixinStandardHelpOptions = true,
            description = "Prints a new enrollment token for learners (--enrollment-token).")
    static final class Create implements Callable<Integer> {
        @CommandLine.ParentCommand EnrollCommand parent;
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--key",
                paramLabel = "FILE",
                description = "Key file (default: work/certs/enrollment.key).")
        Path key;

        @Option(
                names = "--uses",
                paramLabel = "N",
                defaultValue = "1",
                description = "How many learners may join with it; 0 = any number (default 1).")
        int uses;

        @Option(
                names = "--valid",
                paramLabel = "DURATION",
                defaultValue = "PT24H",
                description = "How long it admits learners, ISO-8601 (default PT24H).")
        String valid;

        @Override
        public Integer call() {
            if (uses < 0) {
                throw new CliException(
                        "--uses must be 0 (any number) or more, not " + uses, CliException.USAGE);
            }
            Duration validity;
            try {
                validity = Duration.parse(valid);
            } catch (DateTimeParseException e) {
                throw new CliException(
                        "--valid '" + valid + "' is not an ISO-8601 duration: e.g. PT24H or P7D",
                        CliException.USAGE);
            }
            if (validity.isNegative() || validity.isZero()) {
                throw new CliException(
                        "--valid must be a positive duration, e.g. PT24H", CliException.USAGE);
            }
            String token;
            try {
                token =
                        EnrollmentTokens.fromKeyFile(parent.resolve(key))
                                .issue(uses, validity, Instant.now());
            } catch (TransportConfigException e) {
                throw new CliException(e.getMessage(), CliException.USAGE);
            }
            spec.commandLine().getOut().println(token);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    Path resolve(Path key) {
        return root.environment()
                .workingDir()
                .resolve(key == null ? defaultKey() : key)
                .normalize();
    }
}
