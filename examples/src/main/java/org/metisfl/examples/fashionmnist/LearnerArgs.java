package org.metisfl.examples.fashionmnist;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.metisfl.transport.TransportSecurity;

/**
 * The validated command line of {@link FashionMnistLearner}. Parsed by hand: the example has a
 * dozen flags and no command-line library on its classpath.
 *
 * <p>Flags take their value as the next argument or after {@code =} ({@code --seed 7} or {@code
 * --seed=7}); only {@code --gateway} may be repeated.
 *
 * <pre>{@code
 * LearnerArgs args = LearnerArgs.parse("--gateway", "localhost:50051", "--learner-index", "0",
 *         "--learners", "3", "--partition", "dirichlet", "--alpha", "0.5");
 * }</pre>
 */
public final class LearnerArgs {

    public static final String USAGE =
            """
            Usage: FashionMnistLearner --gateway HOST:PORT [--gateway HOST:PORT ...] [options]

            Joins a MetisFL federation as learner I of N, training on part I of Fashion-MNIST.

              --gateway HOST:PORT  a learner gateway of the federation (repeatable, required)
              --learner-index I    this learner's part, 0..N-1 (default 0)
              --learners N         number of parts the data is split into (default 1)
              --partition P        iid | dirichlet (default iid)
              --alpha A            Dirichlet concentration > 0; smaller is more skewed (default 0.5)
              --model M            mlp | cnn (default mlp)
              --seed S             seed of the initial weights and of the split (default 42)
              --batch-size B       mini-batch size for local training and evaluation (default 64)
              --data-dir DIR       directory of the four IDX .gz files
                                   (default %s)
              --train-limit K      use only the first K training examples (default all)
              --test-limit K       use only the first K test examples (default all)
              --name NAME          learner name shown by the federation (default fashion-mnist-I)
              --ca FILE            PEM CA the gateway's certificate is checked against
                                   (default: the system's trust roots)
              --cert FILE --key FILE  this learner's client certificate and key (mutual TLS)
              --enrollment-token T the operator's enrollment token (metisfl enroll create)
              --insecure           plaintext connection (local development only)
              --ckks-key PATH      the federation's CKKS secret key (secure-aggregation: ckks):
                                   its ckks-secret.key or the folder holding it
              --threshold-shares DIR  threshold mode (secure-aggregation: ckks-threshold): where
                                   this learner keeps its committee key shares (owner-only, one
                                   directory per learner and federation, kept across restarts);
                                   makes it committee-eligible
              --no-committee       with --threshold-shares: do not offer to sit on the committee
              --help               print this help and exit
            """
                    .formatted(FashionMnist.DEFAULT_DIR);

    private final List<String> gateways;
    private final int learnerIndex;
    private final int learners;
    private final Partitioner.Scheme partition;
    private final double alpha;
    private final Models.Kind model;
    private final long seed;
    private final int batchSize;
    private final Path dataDir;
    private final int trainLimit;
    private final int testLimit;
    private final String name;
    private final boolean help;
    private final TransportSecurity transport;
    private final String enrollmentToken;
    private final Path ckksKey;
    private final Path thresholdShares;
    private final boolean committeeEligible;

    private LearnerArgs(Parser p) {
        this.gateways = List.copyOf(p.gateways);
        this.learnerIndex = p.learnerIndex;
        this.learners = p.learners;
        this.partition = p.partition;
        this.alpha = p.alpha;
        this.model = p.model;
        this.seed = p.seed;
        this.batchSize = p.batchSize;
        this.dataDir = p.dataDir;
        this.trainLimit = p.trainLimit;
        this.testLimit = p.testLimit;
        this.name = p.name != null ? p.name : "fashion-mnist-" + p.learnerIndex;
        this.help = p.help;
        this.transport = p.transport();
        this.enrollmentToken = p.enrollmentToken;
        this.ckksKey = p.ckksKey;
        this.thresholdShares = p.thresholdShares;
        this.committeeEligible = p.thresholdShares != null && !p.noCommittee;
    }

    /** The threshold share directory ({@code --threshold-shares}), or null. */
    public Path thresholdShares() {
        return thresholdShares;
    }

    /** Whether the learner offers to sit on a threshold committee. */
    public boolean committeeEligible() {
        return committeeEligible;
    }

    /**
     * The CKKS secret key file ({@code --ckks-key}: the file, or {@code ckks-secret.key} in the
     * folder given), or null for a plaintext federation.
     */
    public Path ckksKey() {
        return ckksKey;
    }

    /** How the learner protects its connection (TLS by default). */
    public TransportSecurity transport() {
        return transport;
    }

    /** The enrollment token, or null. */
    public String enrollmentToken() {
        return enrollmentToken;
    }

    /**
     * Parses and validates {@code args}.
     *
     * @throws UsageException naming the offending flag when an argument is unknown, lacks a value,
     *     has a malformed value, or when a required flag is missing
     */
    public static LearnerArgs parse(String... args) {
        Parser p = new Parser();
        p.parse(args);
        return new LearnerArgs(p);
    }

    public List<String> gateways() {
        return gateways;
    }

    public int learnerIndex() {
        return learnerIndex;
    }

    public int learners() {
        return learners;
    }

    public Partitioner.Scheme partition() {
        return partition;
    }

    public double alpha() {
        return alpha;
    }

    public Models.Kind model() {
        return model;
    }

    public long seed() {
        return seed;
    }

    public int batchSize() {
        return batchSize;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** The number of training examples to read, or 0 for all. */
    public int trainLimit() {
        return trainLimit;
    }

    /** The number of test examples to read, or 0 for all. */
    public int testLimit() {
        return testLimit;
    }

    public String name() {
        return name;
    }

    /** True when {@code --help} was given; the other flags are then not validated. */
    public boolean help() {
        return help;
    }

    @Override
    public String toString() {
        return "LearnerArgs{gateways="
                + gateways
                + ", learner="
                + learnerIndex
                + "/"
                + learners
                + ", partition="
                + partition.name().toLowerCase(Locale.ROOT)
                + (partition == Partitioner.Scheme.DIRICHLET ? "(alpha=" + alpha + ")" : "")
                + ", model="
                + model.name().toLowerCase(Locale.ROOT)
                + ", seed="
                + seed
                + ", batchSize="
                + batchSize
                + ", dataDir="
                + dataDir
                + ", trainLimit="
                + trainLimit
                + ", testLimit="
                + testLimit
                + ", name="
                + name
                + "}";
    }

    /** A bad command line; the message names the flag and what is wrong. */
    public static final class UsageException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    private static final class Parser {
        private final List<String> gateways = new ArrayList<>();
        private final Set<String> seen = new HashSet<>();
        private int learnerIndex = 0;
        private int learners = 1;
        private Partitioner.Scheme partition = Partitioner.Scheme.IID;
        private double alpha = 0.5;
        private Models.Kind model = Models.Kind.MLP;
        private long seed = 42;
        private int batchSize = 64;
        private Path dataDir = FashionMnist.DEFAULT_DIR;
        private int trainLimit = 0;
        private int testLimit = 0;
        private String name;
        private boolean help;
        private boolean insecure;
        private Path ca;
        private Path cert;
        private Path key;
        private String enrollmentToken;
        private Path ckksKey;
        private Path thresholdShares;
        private boolean noCommittee;

        void parse(String[] args) {
            for (String arg : args) {
                if (arg.equals("--help") || arg.equals("-h")) {
                    help = true;
                    return;
                }
            }
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (!arg.startsWith("--")) {
                    throw new UsageException(
                            "unexpected argument '" + arg + "': every option starts with --");
                }
                String flag = arg;
                String value;
                int eq = arg.indexOf('=');
                if (eq >= 0) {
                    flag = arg.substring(0, eq);
                    value = arg.substring(eq + 1);
                } else if (arg.equals("--insecure") || arg.equals("--no-committee")) {
                    value = null;
                } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                    value = args[++i];
                } else {
                    value = null;
                }
                apply(flag, value);
            }
            validate();
        }

        private TransportSecurity transport() {
            if (insecure) {
                if (ca != null || cert != null || key != null) {
                    throw new UsageException(
                            "--insecure contradicts --ca/--cert/--key: give one or the other");
                }
                return TransportSecurity.insecure();
            }
            if ((cert == null) != (key == null)) {
                throw new UsageException("--cert and --key go together: give both or neither");
            }
            TransportSecurity.Builder b =
                    TransportSecurity.builder()
                            .mode(
                                    cert != null
                                            ? TransportSecurity.Mode.MUTUAL_TLS
                                            : TransportSecurity.Mode.TLS);
            if (ca != null) {
                b.trustRoots(ca);
            }
            if (cert != null) {
                b.certificateChain(cert).privateKey(key);
            }
            return b.build();
        }

        private void apply(String flag, String value) {
            if (flag.equals("--no-committee")) {
                if (value != null) {
                    throw new UsageException("--no-committee takes no value");
                }
                noCommittee = true;
                return;
            }
            if (flag.equals("--insecure")) {
                if (value != null && !value.equals("true")) {
                    throw new UsageException("--insecure takes no value");
                }
                insecure = true;
                return;
            }
            if (!KNOWN.contains(flag)) {
                throw new UsageException("unknown option " + flag + "; see --help");
            }
            if (value == null || value.isEmpty()) {
                throw new UsageException(flag + " needs a value; see --help");
            }
            if (!flag.equals("--gateway") && !seen.add(flag)) {
                throw new UsageException(flag + " is given more than once");
            }
            switch (flag) {
                case "--gateway" -> gateways.add(gateway(value));
                case "--learner-index" -> learnerIndex = integer(flag, value, 0);
                case "--learners" -> learners = integer(flag, value, 1);
                case "--partition" -> partition = choice(flag, value, Partitioner.Scheme.class);
                case "--alpha" -> alpha = positiveDouble(flag, value);
                case "--model" -> model = choice(flag, value, Models.Kind.class);
                case "--seed" -> seed = longValue(flag, value);
                case "--batch-size" -> batchSize = integer(flag, value, 1);
                case "--data-dir" -> dataDir = Path.of(value);
                case "--train-limit" -> trainLimit = integer(flag, value, 1);
                case "--test-limit" -> testLimit = integer(flag, value, 1);
                case "--name" -> name = value;
                case "--ca" -> ca = Path.of(value);
                case "--cert" -> cert = Path.of(value);
                case "--key" -> key = Path.of(value);
                case "--enrollment-token" -> enrollmentToken = value;
                case "--ckks-key" -> ckksKey = ckksKey(value);
                case "--threshold-shares" -> thresholdShares = Path.of(value);
                default -> throw new AssertionError(flag);
            }
        }

        private void validate() {
            if (ckksKey != null && thresholdShares != null) {
                throw new UsageException(
                        "--ckks-key and --threshold-shares are both given: a federation is either"
                                + " shared-key (secure-aggregation: ckks, --ckks-key) or threshold"
                                + " (secure-aggregation: ckks-threshold, --threshold-shares)");
            }
            if (noCommittee && thresholdShares == null) {
                throw new UsageException("--no-committee only applies with --threshold-shares DIR");
            }
            if (gateways.isEmpty()) {
                throw new UsageException(
                        "--gateway is required: give the HOST:PORT of a gateway of the federation");
            }
            if (learnerIndex >= learners) {
                throw new UsageException(
                        "--learner-index "
                                + learnerIndex
                                + " is out of range for --learners "
                                + learners
                                + ": it must be 0.."
                                + (learners - 1));
            }
            if (trainLimit > 0 && trainLimit < learners) {
                throw new UsageException(
                        "--train-limit "
                                + trainLimit
                                + " leaves some of the "
                                + learners
                                + " learners without training data; give at least --learners"
                                + " examples");
            }
            if (testLimit > 0 && testLimit < learners) {
                throw new UsageException(
                        "--test-limit "
                                + testLimit
                                + " leaves some of the "
                                + learners
                                + " learners without test data; give at least --learners"
                                + " examples");
            }
        }

        private static final Set<String> KNOWN =
                Set.of(
                        "--gateway",
                        "--learner-index",
                        "--learners",
                        "--partition",
                        "--alpha",
                        "--model",
                        "--seed",
                        "--batch-size",
                        "--data-dir",
                        "--train-limit",
                        "--test-limit",
                        "--name",
                        "--ca",
                        "--cert",
                        "--key",
                        "--enrollment-token",
                        "--ckks-key",
                        "--threshold-shares");

        private static Path ckksKey(String value) {
            Path path = Path.of(value);
            if (java.nio.file.Files.isDirectory(path)) {
                path = path.resolve(org.metisfl.crypto.KeyBundle.SECRET_FILE);
            }
            if (!java.nio.file.Files.isRegularFile(path)) {
                throw new UsageException(
                        "--ckks-key "
                                + value
                                + ": no such key file; give the federation's "
                                + org.metisfl.crypto.KeyBundle.SECRET_FILE
                                + " or the folder holding it ('metisfl keys generate --out DIR')");
            }
            return path;
        }

        private static String gateway(String value) {
            int colon = value.lastIndexOf(':');
            String host = colon > 0 ? value.substring(0, colon) : "";
            String port = colon > 0 ? value.substring(colon + 1) : "";
            int number;
            try {
                number = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                number = -1;
            }
            if (host.isBlank() || number < 1 || number > 65535) {
                throw new UsageException(
                        "--gateway '"
                                + value
                                + "' is not HOST:PORT with a port in 1..65535"
                                + " (e.g. --gateway localhost:50051)");
            }
            return value;
        }

        private static int integer(String flag, String value, int min) {
            int n;
            try {
                n = Integer.parseInt(value);
            } catch (NumberFormatException e) {
                throw new UsageException(flag + " needs an integer, got '" + value + "'");
            }
            if (n < min) {
                throw new UsageException(flag + " must be >= " + min + ", got " + n);
            }
            return n;
        }

        private static long longValue(String flag, String value) {
            try {
                return Long.parseLong(value);
            } catch (NumberFormatException e) {
                throw new UsageException(flag + " needs an integer, got '" + value + "'");
            }
        }

        private static double positiveDouble(String flag, String value) {
            double d;
            try {
                d = Double.parseDouble(value);
            } catch (NumberFormatException e) {
                throw new UsageException(flag + " needs a number, got '" + value + "'");
            }
            if (!(d > 0) || Double.isInfinite(d)) {
                throw new UsageException(flag + " must be a positive number, got " + value);
            }
            return d;
        }

        private static <E extends Enum<E>> E choice(String flag, String value, Class<E> type) {
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(value)) {
                    return e;
                }
            }
            List<String> names = new ArrayList<>();
            for (E e : type.getEnumConstants()) {
                names.add(e.name().toLowerCase(Locale.ROOT));
            }
            throw new UsageException(
                    flag
                            + " must be one of "
                            + String.join(" | ", names)
                            + ", got '"
                            + value
                            + "'");
        }
    }
}
