package org.metisfl.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.metisfl.flink.connector.store.ModelStore;
import org.metisfl.flink.connector.store.StoredModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code metisfl models list}: one line per stored model version, oldest first. */
@Command(
        name = "list",
        mixinStandardHelpOptions = true,
        description =
                "Lists the stored model versions: version, parent, when published, values,"
                        + " contributors, evaluation accuracy and loss of its round, and for an"
                        + " encrypted version (secure-aggregation: ckks) its preset and key id.")
final class ModelsListCommand implements Callable<Integer> {

    @CommandLine.ParentCommand ModelsCommand models;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin ModelsCommand.StoreOptions where = new ModelsCommand.StoreOptions();

    @CommandLine.Option(names = "--json", description = "Print the metadata as JSON instead.")
    boolean json;

    @Override
    public Integer call() {
        ModelStore store = where.open(models.root.environment());
        PrintWriter out = spec.commandLine().getOut();
        List<StoredModel> all;
        try {
            all = store.list();
        } catch (IOException e) {
            throw new CliException("cannot read the model store " + store.directory() + ": " + e);
        }
        if (json) {
            out.println(ModelStore.toJson(all));
            return 0;
        }
        if (all.isEmpty()) {
            out.println("No model versions in " + store.directory());
            return 0;
        }
        out.printf(
                "%-8s %-7s %-24s %10s %12s %9s %9s  %s%n",
                "VERSION",
                "PARENT",
                "PUBLISHED",
                "VALUES",
                "CONTRIBUTORS",
                "ACCURACY",
                "LOSS",
                "ENCRYPTED");
        for (StoredModel m : all) {
            out.printf(
                    "%-8d %-7s %-24s %10d %12s %9s %9s  %s%n",
                    m.version,
                    m.parentVersion < 0 ? "-" : Long.toString(m.parentVersion),
                    Instant.ofEpochMilli(m.publishedAtMs).toString(),
                    m.values,
                    m.contributors == null ? "-" : Integer.toString(m.contributors.size()),
                    metric(m.evalMetrics, "accuracy"),
                    metric(m.evalMetrics, "loss"),
                    m.encryption == null
                            ? "-"
                            : "ckks " + m.encryption.preset + " key " + m.encryption.keyId);
        }
        out.println(all.size() + " versions in " + store.directory());
        return 0;
    }

    private static String metric(Map<String, Double> metrics, String name) {
        Double v = metrics == null ? null : metrics.get(name);
        return v == null ? "-" : String.format("%.4f", v);
    }
}
