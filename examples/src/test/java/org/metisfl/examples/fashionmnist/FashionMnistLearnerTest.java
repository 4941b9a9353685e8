package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;

class FashionMnistLearnerTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void badFlagExitsWithCodeTwoAndNamesTheFlag() {
        int code = run("--gateway", "localhost:50051", "--learners", "zero");

        assertThat(code).isEqualTo(FashionMnistLearner.EXIT_USAGE).isEqualTo(2);
        assertThat(err()).contains("--learners needs an integer, got 'zero'").contains("--help");
    }

    @Test
    void missingGatewayExitsWithCodeTwo() {
        assertThat(run("--learners", "2")).isEqualTo(2);
        assertThat(err()).contains("--gateway is required");
    }

    @Test
    void summaryAtTheEndSaysWhatTheLearnerDidOverTheFederation() {
        var summary =
                new org.metisfl.learner.LearnerSummary("l-1", 5, 1, 4, 6, 2, true, "5 rounds done");
        assertThat(FashionMnistLearner.summary("learner-0", summary, null))
                .isEqualTo(
                        "Federation over for learner-0 (5 rounds done): 5 updates accepted, 1"
                                + " dropped, 4 evaluations, last model version 6, 2 reconnects");
    }

    @Test
    void helpPrintsTheUsageAndExitsWithZero() {
        assertThat(run("--help")).isZero();
        assertThat(out()).contains("--gateway HOST:PORT", "--partition P", "--train-limit K");
    }

    @Test
    void missingDataExitsWithCodeOneAndNamesTheAptFix(@TempDir Path empty) {
        int code = run("--gateway", "localhost:50051", "--data-dir", empty.toString());

        assertThat(code).isEqualTo(FashionMnistLearner.EXIT_FAILURE);
        assertThat(err()).contains("apt-get install dataset-fashion-mnist");
    }

    @Test
    void adapterReportsTheLearnersPartSizesAndEvaluatesOnItsTestPart() {
        FashionMnist data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 3000, 500);
        LearnerArgs args =
                LearnerArgs.parse(
                        "--gateway", "localhost:50051",
                        "--learners", "3",
                        "--learner-index", "1",
                        "--batch-size", "100");

        ModelAdapter adapter = FashionMnistLearner.adapterFor(args, data);
        EvaluationResult result = adapter.evaluate(new EvaluateTask(0, 100));

        assertThat(adapter.numTrainingExamples()).isEqualTo(1000);
        assertThat(adapter.numTestExamples()).isEqualTo(167);
        assertThat(result.numExamples()).isEqualTo(167);
        assertThat(result.metrics().get("accuracy")).isBetween(0.0, 0.4);
    }

    private int run(String... argv) {
        return FashionMnistLearner.run(
                argv,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }
}
