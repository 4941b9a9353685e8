package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class LearnerArgsTest {

    @Test
    void takesTheCkksSecretKeyAsItsFileOrTheFolderHoldingItAndRefusesAMissingOne(
            @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path key = dir.resolve("ckks-secret.key");
        java.nio.file.Files.write(key, new byte[] {1});

        assertThat(LearnerArgs.parse("--gateway", "h:1").ckksKey()).isNull();
        assertThat(LearnerArgs.parse("--gateway", "h:1", "--ckks-key", dir.toString()).ckksKey())
                .isEqualTo(key);
        assertThat(LearnerArgs.parse("--gateway", "h:1", "--ckks-key=" + key).ckksKey())
                .isEqualTo(key);
        assertThatThrownBy(
                        () ->
                                LearnerArgs.parse(
                                        "--gateway",
                                        "h:1",
                                        "--ckks-key",
                                        dir.resolve("nowhere").toString()))
                .isInstanceOf(LearnerArgs.UsageException.class)
                .hasMessageContaining("--ckks-key")
                .hasMessageContaining("no such key file");
    }

    @Test
    void takesAThresholdShareDirectoryThatMakesTheLearnerCommitteeEligibleUnlessToldNot(
            @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        LearnerArgs plain = LearnerArgs.parse("--gateway", "h:1");
        assertThat(plain.thresholdShares()).isNull();
        assertThat(plain.committeeEligible()).isFalse();
        LearnerArgs member =
                LearnerArgs.parse("--gateway", "h:1", "--threshold-shares", dir.toString());
        assertThat(member.thresholdShares()).isEqualTo(dir);
        assertThat(member.committeeEligible()).isTrue();
        assertThat(
                        LearnerArgs.parse(
                                        "--gateway",
                                        "h:1",
                                        "--no-committee",
                                        "--threshold-shares",
                                        dir.toString())
                                .committeeEligible())
                .isFalse();
        assertThatThrownBy(() -> LearnerArgs.parse("--gateway", "h:1", "--no-committee"))
                .isInstanceOf(LearnerArgs.UsageException.class)
                .hasMessageContaining("--no-committee only applies with --threshold-shares");
        Path key = dir.resolve("ckks-secret.key");
        java.nio.file.Files.write(key, new byte[] {1});
        assertThatThrownBy(
                        () ->
                                LearnerArgs.parse(
                                        "--gateway",
                                        "h:1",
                                        "--ckks-key",
                                        key.toString(),
                                        "--threshold-shares",
                                        dir.toString()))
                .isInstanceOf(LearnerArgs.UsageException.class)
                .hasMessageContaining("--ckks-key and --threshold-shares are both given");
    }

    @Test
    void appliesDefaultsWhenOnlyAGatewayIsGiven() {
        LearnerArgs args = LearnerArgs.parse("--gateway", "localhost:50051");

        assertThat(args.gateways()).containsExactly("localhost:50051");
        assertThat(args.learnerIndex()).isZero();
        assertThat(args.learners()).isEqualTo(1);
        assertThat(args.partition()).isEqualTo(Partitioner.Scheme.IID);
        assertThat(args.alpha()).isEqualTo(0.5);
        assertThat(args.model()).isEqualTo(Models.Kind.MLP);
        assertThat(args.seed()).isEqualTo(42);
        assertThat(args.batchSize()).isEqualTo(64);
        assertThat(args.dataDir()).isEqualTo(FashionMnist.DEFAULT_DIR);
        assertThat(args.trainLimit()).isZero();
        assertThat(args.testLimit()).isZero();
        assertThat(args.name()).isEqualTo("fashion-mnist-0");
        assertThat(args.help()).isFalse();
    }

    @Test
    void readsEveryFlagInBothSpellingsAndRepeatedGateways() {
        LearnerArgs args =
                LearnerArgs.parse(
                        "--gateway",
                        "10.0.0.1:7000",
                        "--gateway=[::1]:7001",
                        "--learner-index",
                        "2",
                        "--learners=5",
                        "--partition",
                        "DIRICHLET",
                        "--alpha",
                        "0.1",
                        "--model",
                        "cnn",
                        "--seed",
                        "-7",
                        "--batch-size",
                        "32",
                        "--data-dir",
                        "/tmp/fm",
                        "--train-limit",
                        "600",
                        "--test-limit",
                        "100",
                        "--name",
                        "edge-2");

        assertThat(args.gateways()).containsExactly("10.0.0.1:7000", "[::1]:7001");
        assertThat(args.learnerIndex()).isEqualTo(2);
        assertThat(args.learners()).isEqualTo(5);
        assertThat(args.partition()).isEqualTo(Partitioner.Scheme.DIRICHLET);
        assertThat(args.alpha()).isEqualTo(0.1);
        assertThat(args.model()).isEqualTo(Models.Kind.CNN);
        assertThat(args.seed()).isEqualTo(-7);
        assertThat(args.batchSize()).isEqualTo(32);
        assertThat(args.dataDir()).isEqualTo(Path.of("/tmp/fm"));
        assertThat(args.trainLimit()).isEqualTo(600);
        assertThat(args.testLimit()).isEqualTo(100);
        assertThat(args.name()).isEqualTo("edge-2");
    }

    @Test
    void helpWinsOverEverythingElse() {
        assertThat(LearnerArgs.parse("--bogus", "--help").help()).isTrue();
        assertThat(LearnerArgs.USAGE).contains("--gateway HOST:PORT", "--train-limit");
    }

    @Test
    void rejectsBadCommandLinesNamingTheFlag() {
        assertUsageError("--gateway is required", "--learners", "3");
        assertUsageError("unknown option --epochs", gw("--epochs", "3"));
        assertUsageError("--seed needs a value", gw("--seed"));
        assertUsageError("--learners needs an integer, got 'three'", gw("--learners", "three"));
        assertUsageError("--batch-size must be >= 1, got 0", gw("--batch-size", "0"));
        assertUsageError("--gateway 'localhost' is not HOST:PORT", "--gateway", "localhost");
        assertUsageError("--gateway 'h:70000' is not HOST:PORT", "--gateway", "h:70000");
        assertUsageError(
                "--learner-index 3 is out of range for --learners 3",
                gw("--learners", "3", "--learner-index", "3"));
        assertUsageError(
                "--partition must be one of iid | dirichlet, got 'zipf'",
                gw("--partition", "zipf"));
        assertUsageError("--model must be one of mlp | cnn", gw("--model", "resnet"));
        assertUsageError("--alpha must be a positive number", gw("--alpha", "0"));
        assertUsageError("--alpha needs a number", gw("--alpha", "much"));
        assertUsageError("--seed is given more than once", gw("--seed", "1", "--seed", "2"));
        assertUsageError(
                "--train-limit 2 leaves some of the 3 learners",
                gw("--learners", "3", "--train-limit", "2"));
        assertUsageError("unexpected argument 'extra'", gw("--seed", "1", "extra"));
    }

    private static void assertUsageError(String message, String... argv) {
        assertThatThrownBy(() -> LearnerArgs.parse(argv))
                .isInstanceOf(LearnerArgs.UsageException.class)
                .hasMessageContaining(message);
    }

    private static String[] gw(String... flags) {
        String[] all = new String[flags.length + 2];
        all[0] = "--gateway";
        all[1] = "localhost:50051";
        System.arraycopy(flags, 0, all, 2, flags.length);
        return all;
    }
}
