package org.metisfl.examples.fashionmnist;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.learner.Learner;
import org.metisfl.learner.LearnerException;
import org.metisfl.learner.LearnerOptions;
import org.metisfl.learner.LearnerSummary;
import org.metisfl.learner.ModelAdapter;
import org.metisfl.learner.dl4j.DeepLearning4jAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A MetisFL learner that trains a DL4J model on its part of Fashion-MNIST: it joins the federation
 * through the given gateways and trains and evaluates on request until the federation ends.
 *
 * <pre>{@code
 * java -cp ... org.metisfl.examples.fashionmnist.FashionMnistLearner \
 *     --gateway localhost:50051 --learners 3 --learner-index 0 --partition dirichlet --alpha 0.5
 * }</pre>
 *
 * <p>Tests and in-process federations build the same learner with {@link #adapterFor(LearnerArgs,
 * FashionMnist)}, sharing one loaded data set between learners.
 */
public final class FashionMnistLearner {
    private static final Logger LOG = LoggerFactory.getLogger(FashionMnistLearner.class);

    /** Exit code of a run that ended with the federation (or of {@code --help}). */
    public static final int EXIT_OK = 0;

    /** Exit code when the data is missing or the learner failed. */
    public static final int EXIT_FAILURE = 1;

    /** Exit code of a bad command line. */
    public static final int EXIT_USAGE = 2;

    private FashionMnistLearner() {}

    public static void main(String[] argv) {
        // Exit explicitly: ND4J and gRPC leave non-daemon threads behind.
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs a learner for {@code argv} and returns the process exit code. */
    static int run(String[] argv, PrintStream out, PrintStream err) {
        LearnerArgs args;
        try {
            args = LearnerArgs.parse(argv);
        } catch (LearnerArgs.UsageException e) {
            err.println("error: " + e.getMessage());
            err.println("Run with --help to list the options.");
            return EXIT_USAGE;
        }
        if (args.help()) {
            out.print(LearnerArgs.USAGE);
            return EXIT_OK;
        }
        try {
            LOG.info("Starting Fashion-MNIST learner: {}", args);
            KeyBundle keys = args.ckksKey() == null ? null : loadKey(args.ckksKey());
            ModelAdapter adapter = adapterFor(args);
            try (Learner learner =
                    Learner.builder()
                            .gateways(args.gateways())
                            .name(args.name())
                            .adapter(adapter)
                            .options(
                                    LearnerOptions.builder()
                                            .transportSecurity(args.transport())
                                            .enrollmentToken(args.enrollmentToken())
                                            .keyBundle(keys)
                                            .thresholdShareDir(args.thresholdShares())
                                            .committeeEligible(args.committeeEligible())
                                            .build())
                            .build()) {
                LearnerSummary summary = learner.run();
                LOG.info(summary(args.name(), summary, adapter));
            }
            return EXIT_OK;
        } catch (FashionMnist.DataUnavailableException | LearnerException e) {
            err.println("error: " + e.getMessage());
            return EXIT_FAILURE;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return EXIT_USAGE;
        }
    }

    private static KeyBundle loadKey(Path file) {
        try {
            KeyBundle keys = KeyBundle.load(file);
            LOG.info(
                    "CKKS key bundle {} ({} {}) from {}",
                    keys.keyId(),
                    keys.backendId(),
                    keys.preset(),
                    file);
            return keys;
        } catch (IOException e) {
            throw new IllegalArgumentException("--ckks-key: cannot read " + file + ": " + e);
        }
    }

    /** The learner's last line: what it did over the whole federation. */
    static String summary(String name, LearnerSummary s, ModelAdapter adapter) {
        StringBuilder b =
                new StringBuilder("Federation over for ")
                        .append(name)
                        .append(" (")
                        .append(
                                s.shutdownReason() == null || s.shutdownReason().isEmpty()
                                        ? "no reason given"
                                        : s.shutdownReason())
                        .append("): ")
                        .append(s.roundsTrained())
                        .append(" updates accepted, ")
                        .append(s.updatesDropped())
                        .append(" dropped, ")
                        .append(s.evaluationsDone())
                        .append(" evaluations, last model version ")
                        .append(s.lastModelVersion())
                        .append(", ")
                        .append(s.reconnects())
                        .append(" reconnects");
        if (adapter instanceof DeepLearning4jAdapter dl4j) {
            b.append("; trained ").append(dl4j.progress().totals().describe());
        }
        return b.toString();
    }

    /** Loads the data named by {@code args} and builds the learner's model adapter. */
    public static ModelAdapter adapterFor(LearnerArgs args) {
        return adapterFor(LearnerSetup.of(args));
    }

    /**
     * Builds the learner's model adapter from already loaded data, so that several in-process
     * learners can share one copy; the limits of {@code args} still apply.
     */
    public static ModelAdapter adapterFor(LearnerArgs args, FashionMnist data) {
        return adapterFor(LearnerSetup.of(args, data));
    }

    /** Wraps a setup's network and iterators in the DL4J adapter. */
    public static ModelAdapter adapterFor(LearnerSetup setup) {
        return new DeepLearning4jAdapter(setup.network(), setup.train(), setup.test());
    }
}
