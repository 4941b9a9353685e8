package org.metisfl.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code metisfl} command line: runs MetisFL federations on a Flink cluster (submit, status,
 * savepoint, stop, resume) and starts example learners. Launched by {@code bin/metisfl}.
 *
 * <pre>
 * bin/flink-cluster start
 * bin/metisfl submit conf/federations/quickstart.yaml --set federation.rounds=3
 * bin/metisfl learners --count 3
 * bin/metisfl status
 * bin/metisfl stop                     # stop with a savepoint; prints its path
 * bin/metisfl resume --from SAVEPOINT conf/federations/quickstart.yaml
 * bin/metisfl report results/quickstart.jsonl   # HTML report with charts
 * bin/metisfl models list                       # the model versions the job stored
 * </pre>
 *
 * <p>Errors are one line, {@code metisfl: <problem>; <fix>}, with exit code 1 (cluster or job) or 2
 * (command line or federation file).
 */
@Command(
        name = "metisfl",
        mixinStandardHelpOptions = true,
        version = "metisfl 0.1.0-SNAPSHOT",
        description = "Runs MetisFL federations on a Flink cluster.",
        subcommands = {
            SubmitCommand.class,
            StatusCommand.class,
            JobsCommand.class,
            SavepointCommand.class,
            StopCommand.class,
            ResumeCommand.class,
            LearnersCommand.class,
            ReportCommand.class,
            ModelsCommand.class,
            KeysCommand.class,
            CertsCommand.class,
            EnrollCommand.class,
            CommandLine.HelpCommand.class
        })
public final class MetisflCli implements Runnable {
    private final CliEnvironment environment;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    public MetisflCli(CliEnvironment environment) {
        this.environment = environment;
    }

    public CliEnvironment environment() {
        return environment;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(
                spec.commandLine(),
                "give a command; list them with '" + environment.command() + " --help'");
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(execute(CliEnvironment.fromSystem(), out, err, args));
    }

    /** Runs one command line; returns its exit code. */
    public static int execute(
            CliEnvironment environment, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new MetisflCli(environment));
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                    if (e instanceof CliException c) {
                        err.println("metisfl: " + c.getMessage());
                        err.flush();
                        return c.exitCode();
                    }
                    err.println("metisfl: unexpected error: " + e);
                    e.printStackTrace(err);
                    err.flush();
                    return CliException.FAILED;
                });
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
