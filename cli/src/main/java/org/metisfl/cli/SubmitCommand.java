package org.metisfl.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code metisfl submit FED.yaml}: starts a federation on the cluster. */
@Command(
        name = "submit",
        mixinStandardHelpOptions = true,
        description = {
            "Validates a federation file and starts it as a job on the Flink cluster.",
            "The file's keys are sent as --set program arguments, so it need not exist on the"
                    + " cluster; the job jar is uploaded once and reused."
        })
final class SubmitCommand extends SubmittingCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        submit(null);
        return 0;
    }
}
