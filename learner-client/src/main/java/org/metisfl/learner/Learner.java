package org.metisfl.learner;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.metisfl.learner.internal.GatewayAddress;
import org.metisfl.learner.internal.LearnerSession;

/**
 * A federated-learning participant: it joins a federation through one of its learner gateways,
 * trains and evaluates its {@link ModelAdapter} on local data whenever the controller asks, and
 * uploads only model updates; the data never leaves the process.
 *
 * <pre>{@code
 * ModelAdapter model = new DeepLearning4jAdapter(network, trainIterator, testIterator);
 * try (Learner learner = Learner.builder()
 *         .gateways("gateway-0:50051", "gateway-1:50051")
 *         .name("hospital-a")
 *         .adapter(model)
 *         .build()) {
 *     LearnerSummary summary = learner.run(); // until the federation shuts down
 *     System.out.println(summary);
 * }
 * }</pre>
 *
 * <p>{@link #run()} survives lost connections (it reconnects with backoff, moving to the next
 * gateway, and resends every unacknowledged update), expired credentials (it joins again) and
 * refused updates (it drops them and goes on). In an asynchronous federation it trains its next
 * task while its previous update awaits its acknowledgement (at most two unacknowledged; see {@link
 * #unacknowledgedUpdates()}). {@link #close()} leaves the federation.
 */
public final class Learner implements AutoCloseable {
    private final LearnerSession session;

    Learner(LearnerSession session) {
        this.session = session;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Joins the federation and works through its tasks on the calling thread until the federation
     * shuts down or {@link #close()} is called (from another thread). Can be called once per
     * learner.
     *
     * @return what the learner did and why it stopped
     * @throws LearnerException if the gateways stay unreachable past {@link
     *     LearnerOptions#maxReconnectAttempts()}, the gateway refuses the learner for a reason
     *     retrying cannot fix, or the model adapter fails
     * @throws IllegalStateException if {@code run()} was already called or the learner is closed
     */
    public LearnerSummary run() {
        return session.run();
    }

    /**
     * Updates this learner has sent that the gateway has neither acknowledged (after the checkpoint
     * that holds them) nor refused yet. The learner keeps each until then and sends it again after
     * a reconnect. In an asynchronous federation it trains its next task meanwhile, with at most
     * two unacknowledged; otherwise it waits for each answer. Safe to call from any thread.
     */
    public int unacknowledgedUpdates() {
        return session.unacknowledgedUpdates();
    }

    /**
     * Leaves the federation (if {@link #run()} is still working) and closes the connection. While a
     * task is in progress it waits up to the call timeout for it to finish. Idempotent.
     */
    @Override
    public void close() {
        session.close();
    }

    /** Builds a {@link Learner}; {@link #build()} validates. */
    public static final class Builder {
        private List<String> gateways = List.of();
        private String name;
        private ModelAdapter adapter;
        private LearnerOptions options = LearnerOptions.defaults();

        Builder() {}

        /**
         * The learner gateways, as {@code host:port}; required. Reconnects go round-robin, to the
         * home gateway (the one the learner joined through) first when away from it.
         */
        public Builder gateways(String... hostPorts) {
            return gateways(Arrays.asList(Objects.requireNonNull(hostPorts, "gateways")));
        }

        /**
         * The learner gateways, as {@code host:port}; required. Reconnects go round-robin, to the
         * home gateway (the one the learner joined through) first when away from it.
         */
        public Builder gateways(List<String> hostPorts) {
            this.gateways = new ArrayList<>(Objects.requireNonNull(hostPorts, "gateways"));
            return this;
        }

        /** A human-readable name for logs and results; default {@code learner-<pid>}. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** The model and local data to train; required. */
        public Builder adapter(ModelAdapter adapter) {
            this.adapter = adapter;
            return this;
        }

        /** Timeouts, reconnection and chunking; default {@link LearnerOptions#defaults()}. */
        public Builder options(LearnerOptions options) {
            this.options = options;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the missing or invalid property and the fix
         */
        public Learner build() {
            if (gateways.isEmpty()) {
                throw new IllegalArgumentException(
                        "gateways is not set: pass at least one learner gateway address, e.g."
                                + " .gateways(\"localhost:50051\")");
            }
            List<GatewayAddress> addresses = new ArrayList<>(gateways.size());
            for (String g : gateways) {
                addresses.add(GatewayAddress.parse(g));
            }
            if (adapter == null) {
                throw new IllegalArgumentException(
                        "adapter is not set: pass the model to train, e.g. .adapter(new"
                                + " DeepLearning4jAdapter(network, train, test)), or implement"
                                + " ModelAdapter");
            }
            if (options == null) {
                throw new IllegalArgumentException(
                        "options is null: pass LearnerOptions.builder()...build(), or omit"
                                + " options() for the defaults");
            }
            String learnerName = name;
            if (learnerName == null) {
                learnerName = "learner-" + ProcessHandle.current().pid();
            } else if (learnerName.isBlank()) {
                throw new IllegalArgumentException(
                        "name is blank: pass a readable name such as \"hospital-a\", or omit"
                                + " name() for learner-<pid>");
            }
            return new Learner(LearnerSession.create(addresses, learnerName, adapter, options));
        }
    }
}
