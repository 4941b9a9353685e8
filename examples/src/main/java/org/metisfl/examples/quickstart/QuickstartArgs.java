package org.metisfl.examples.quickstart;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The command line of {@link Quickstart}. */
final class QuickstartArgs {
    static final String USAGE =
            """
            Usage: bin/quickstart [options]

            Runs a federation on an embedded Flink MiniCluster (web UI on --web-ui-port) with N
            Fashion-MNIST learner processes, prints each round, and writes the results file.

              --federation FILE   federation file (default conf/federations/quickstart.yaml)
              --learners N        learner processes, also the learners a round waits for (default 3)
              --rounds R          rounds (default: the federation file's federation.rounds)
              --partition P       iid | dirichlet (default iid)
              --alpha A           Dirichlet concentration (default 0.5)
              --model M           mlp | cnn (default mlp)
              --learner L         java | python | mixed: DL4J learners, PyTorch learners
                                  (learner-python/), or both in turns (default java)
              --train-limit K     learners use only the first K training examples (default all)
              --test-limit K      learners use only the first K test examples (default all)
              --web-ui-port P     Flink web UI port; -1 for none (default 8081)
              --work-dir DIR      checkpoints, logs and temporary files (default work)
              --set KEY=VALUE     override any federation key (repeatable)
              --help              print this help and exit
            """;

    Path federation = Path.of("conf/federations/quickstart.yaml");
    int learners = 3;
    Integer rounds;
    String partition = "iid";
    String alpha = "0.5";
    String model = "mlp";
    String learner = "java";
    String trainLimit;
    String testLimit;
    int webUiPort = 8081;
    Path workDir = Path.of("work");
    final List<String> settings = new ArrayList<>();
    boolean help;

    static QuickstartArgs parse(String[] argv) {
        QuickstartArgs a = new QuickstartArgs();
        for (int i = 0; i < argv.length; i++) {
            String flag = argv[i];
            if (flag.equals("--help") || flag.equals("-h")) {
                a.help = true;
                continue;
            }
            if (i + 1 >= argv.length) {
                throw new IllegalArgumentException(flag + " needs a value (see --help)");
            }
            String v = argv[++i];
            switch (flag) {
                case "--federation" -> a.federation = Path.of(v);
                case "--learners" -> a.learners = positive(flag, v);
                case "--rounds" -> a.rounds = positive(flag, v);
                case "--partition" -> a.partition = v;
                case "--alpha" -> a.alpha = v;
                case "--model" -> a.model = v;
                case "--learner" -> {
                    if (!List.of("java", "python", "mixed").contains(v)) {
                        throw new IllegalArgumentException(
                                "--learner takes java, python or mixed, got '" + v + "'");
                    }
                    a.learner = v;
                }
                case "--train-limit" -> a.trainLimit = Integer.toString(positive(flag, v));
                case "--test-limit" -> a.testLimit = Integer.toString(positive(flag, v));
                case "--web-ui-port" -> a.webUiPort = integer(flag, v);
                case "--work-dir" -> a.workDir = Path.of(v);
                case "--set" -> {
                    if (!v.contains("=")) {
                        throw new IllegalArgumentException(
                                "--set takes KEY=VALUE, e.g. --set round.timeout=2min");
                    }
                    a.settings.add(v);
                }
                default ->
                        throw new IllegalArgumentException(
                                "unknown option '" + flag + "' (see --help)");
            }
        }
        return a;
    }

    private static int integer(String flag, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes a number, got '" + v + "'");
        }
    }

    private static int positive(String flag, String v) {
        int n = integer(flag, v);
        if (n < 1) {
            throw new IllegalArgumentException(flag + " must be at least 1, got " + n);
        }
        return n;
    }
}
