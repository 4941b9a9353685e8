package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.evaluation.classification.Evaluation;

class LearnerSetupTest {

    private static FashionMnist data;

    @BeforeAll
    static void load() {
        data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 6000, 1000);
    }

    @Test
    void mlpReachesSeventyPercentAfterOneEpochOnSixThousandExamples() {
        LearnerSetup setup = LearnerSetup.of(args("--train-limit", "6000", "--test-limit", "1000"));
        assertThat(setup.train().numExamples()).isEqualTo(6000);
        assertThat(setup.test().numExamples()).isEqualTo(1000);

        setup.network().fit(setup.train());
        Evaluation eval = setup.network().evaluate(setup.test());

        assertThat(eval.getNumRowCounter()).isEqualTo(1000);
        assertThat(eval.accuracy()).isGreaterThan(0.70);
    }

    @Test
    void weightedMeanOfLearnersTestAccuracyIsTheWholeTestSetAccuracy() {
        LearnerSetup whole = LearnerSetup.of(args("--train-limit", "2000"), data);
        MultiLayerNetwork network = whole.network();
        network.fit(whole.train());
        double global = network.evaluate(whole.test()).accuracy();

        double weighted = 0;
        long examples = 0;
        for (int i = 0; i < 3; i++) {
            LearnerSetup learner =
                    LearnerSetup.of(
                            args(
                                    "--learners",
                                    "3",
                                    "--learner-index",
                                    "" + i,
                                    "--test-limit",
                                    "1000"),
                            data);
            int n = learner.test().numExamples();
            weighted += network.evaluate(learner.test()).accuracy() * n;
            examples += n;
        }

        assertThat(examples).isEqualTo(1000);
        assertThat(weighted / examples).isCloseTo(global, within(1e-9));
    }

    @Test
    void learnersOfOneFederationGetDisjointTrainingPartsAndIdenticalInitialWeights() {
        int total = 0;
        MultiLayerNetwork first = null;
        for (int i = 0; i < 4; i++) {
            LearnerSetup learner =
                    LearnerSetup.of(
                            args(
                                    "--learners",
                                    "4",
                                    "--learner-index",
                                    "" + i,
                                    "--partition",
                                    "dirichlet",
                                    "--alpha",
                                    "0.3"),
                            data);
            total += learner.train().numExamples();
            if (first == null) {
                first = learner.network();
            } else {
                assertThat(learner.network().params()).isEqualTo(first.params());
            }
        }
        assertThat(total).isEqualTo(6000);
    }

    private static LearnerArgs args(String... flags) {
        String[] all = new String[flags.length + 2];
        all[0] = "--gateway";
        all[1] = "localhost:50051";
        System.arraycopy(flags, 0, all, 2, flags.length);
        return LearnerArgs.parse(all);
    }
}
