package org.metisfl.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.metisfl.cli.report.FederationReport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code metisfl report RESULTS}: an HTML report with charts of a federation's results file. */
@Command(
        name = "report",
        mixinStandardHelpOptions = true,
        description = {
            "Writes an HTML report of a federation's results file (JSON lines, one per round):"
                    + " accuracy, loss, round time, participants and contributors per round, as"
                    + " charts (also written as PNG files next to it) and as a table.",
            "Needs no cluster: the results file is read here."
        })
final class ReportCommand implements Callable<Integer> {

    @CommandLine.ParentCommand MetisflCli root;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "RESULTS",
            description = "The results file (federation.results-file), e.g. results/demo.jsonl.")
    String results;

    @Option(
            names = "--out",
            paramLabel = "FILE.html",
            description = "Where to write the report (default: RESULTS with .html).")
    String out;

    @Override
    public Integer call() {
        CliEnvironment env = root.environment();
        Path file = env.resolve(results);
        if (!Files.isRegularFile(file)) {
            throw new CliException(
                    "the results file "
                            + file
                            + " does not exist; give the federation's results file (its"
                            + " federation.results-file, shown by 'status')",
                    CliException.USAGE);
        }
        Path html = out != null ? env.resolve(out) : FederationReport.defaultHtml(file);
        try {
            Path written = FederationReport.write(file, html);
            spec.commandLine().getOut().println("Report: " + written);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage(), CliException.USAGE);
        } catch (IOException e) {
            throw new CliException("cannot write the report " + html + ": " + e.getMessage());
        }
        return 0;
    }
}
