package org.metisfl.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code metisfl resume --from SAVEPOINT FED.yaml}: continues a federation from a savepoint. */
@Command(
        name = "resume",
        mixinStandardHelpOptions = true,
        description = {
            "Starts a federation from a savepoint (or a retained checkpoint): it continues at the"
                    + " round it was in, with the same global model and learners.",
            "Learners reconnect by themselves; their credentials stay valid."
        })
final class ResumeCommand extends SubmittingCommand implements Callable<Integer> {

    @Option(
            names = "--from",
            required = true,
            paramLabel = "SAVEPOINT",
            description = "Savepoint path as printed by 'metisfl stop' or 'metisfl savepoint'.")
    String savepoint;

    @Override
    public Integer call() {
        String path = savepoint;
        if (!path.contains(":") && flink().isLocal()) {
            // a plain local path: the JobManager's working directory is not ours
            path = env().resolve(path).toString();
        }
        submit(path);
        return 0;
    }
}
