package org.metisfl.cli.e2e;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.metisfl.learner.Learner;

/**
 * A learner of the real learner library in a process of its own, so a test can {@code kill -9} it:
 * a {@link DeterministicModel} that blocks in the training of one round and prints {@code HELD
 * <round>} when it got there.
 *
 * <pre>{@code
 * java -cp TEST_CLASSPATH org.metisfl.cli.e2e.KillableLearner HOST:PORT INDEX SIZE EXAMPLES ROUND
 * }</pre>
 */
public final class KillableLearner {
    private KillableLearner() {}

    public static void main(String[] args) throws Exception {
        String gateway = args[0];
        int index = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        long examples = Long.parseLong(args[3]);
        long holdRound = Long.parseLong(args[4]);
        DeterministicModel model = new DeterministicModel(index, size, examples, 50);
        model.holdAt(holdRound);
        Learner learner =
                Learner.builder()
                        .gateways(List.of(gateway))
                        .name("learner-" + index)
                        .adapter(model)
                        .options(LearnerFleet.OPTIONS)
                        .build();
        Thread run = new Thread(learner::run, "killable-learner");
        run.setDaemon(true);
        run.start();
        if (model.awaitHeld(5, TimeUnit.MINUTES)) {
            System.out.println("HELD " + holdRound);
            System.out.flush();
        }
        run.join();
    }
}
