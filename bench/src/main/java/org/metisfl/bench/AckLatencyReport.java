package org.metisfl.bench;

import java.util.List;
import java.util.Locale;
import org.metisfl.simulator.AckLatencies;

/**
 * The acknowledgement latency of every scenario's updates: from an upload's last byte handed to
 * gRPC (half-close) to its answer, which with checkpoints on waits for the checkpoint holding the
 * update. Beside it, what the scenario's processes spent in CPU and the load around it, since the
 * simulated learners share the machine with the controller.
 */
final class AckLatencyReport {
    private AckLatencyReport() {}

    static String markdown(List<FederationBenchmark.Outcome> outcomes) {
        Table t =
                new Table(
                        "scenario",
                        "checkpoints",
                        "updates acknowledged",
                        "ack latency median ms",
                        "p99 ms",
                        "max ms",
                        "learners CPU s",
                        "controller CPU s",
                        "wall s",
                        "load (1 min) before → after");
        for (FederationBenchmark.Outcome o : outcomes) {
            AckLatencies.Snapshot a = o.report().ackLatencies();
            if (a.count() == 0) {
                continue;
            }
            t.row(
                    o.scenario().id(),
                    o.scenario().checkpointInterval().equals("0")
                            ? "off"
                            : o.scenario().checkpointInterval(),
                    Table.count(a.count()),
                    Table.ms(a.percentileUs(50)),
                    Table.ms(a.percentileUs(99)),
                    Table.ms(a.percentileUs(100)),
                    cpu(o.learnersCpuSeconds()),
                    cpu(o.controllerCpuSeconds()),
                    String.format(Locale.ROOT, "%.0f", o.wallSeconds()),
                    o.note().isEmpty() ? "–" : o.note());
        }
        if (t.isEmpty()) {
            return "";
        }
        return "## Acknowledgement latency (upload sent → ack)\n\n"
                + t
                + "\nFrom the moment an upload's last byte was handed to gRPC and the call"
                + " half-closed to the gateway's answer; with checkpoints on the answer waits for"
                + " the checkpoint that holds the update. Checkpoints: the scenario's"
                + " job.checkpoint-interval (\"default\": the job's own rule). CPU: the"
                + " simulated learners (driver JVM) and the controller process over the scenario.\n\n";
    }

    private static String cpu(double seconds) {
        return Double.isNaN(seconds) ? "–" : String.format(Locale.ROOT, "%.1f", seconds);
    }
}
