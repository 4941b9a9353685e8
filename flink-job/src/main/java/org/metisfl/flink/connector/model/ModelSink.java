package org.metisfl.flink.connector.model;

import java.time.Duration;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.metisfl.flink.model.Directive;

/**
 * Closes the federation's loop: delivers each new global model and round plan to every learner
 * gateway over gRPC. Gateways announce themselves through the job (records broadcast to every sink
 * subtask), so this works whichever task managers the gateways run on. Delivery is asynchronous, in
 * order per gateway, retried with a bounded backoff; a gateway that stays unreachable fails the job
 * after the delivery timeout.
 *
 * <pre>{@code
 * directives.sinkTo(ModelSink.builder()
 *         .maxMessageBytes(4 << 20)
 *         .deliveryTimeout(Duration.ofMinutes(2))
 *         .build());
 * }</pre>
 */
public final class ModelSink implements Sink<Directive> {
    private static final long serialVersionUID = 1L;

    private final int maxMessageBytes;
    private final DeliveryPolicy policy;
    private final boolean shards;

    ModelSink(int maxMessageBytes, DeliveryPolicy policy, boolean shards) {
        this.maxMessageBytes = maxMessageBytes;
        this.policy = policy;
        this.shards = shards;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public SinkWriter<Directive> createWriter(WriterInitContext context) {
        ModelSinkWriter writer =
                new ModelSinkWriter(
                        maxMessageBytes, true, policy, context.getMailboxExecutor(), shards);
        // A growing queue shows a gateway that does not keep up (or is down) before it fails.
        context.metricGroup().gauge("pendingDirectives", writer::pendingDeliveries);
        context.metricGroup().gauge("deliveredDirectives", writer::deliveredDirectives);
        return writer;
    }

    /** Settings of a {@link ModelSink}; only the message size is required. */
    public static final class Builder {
        private int maxMessageBytes;
        private Duration deliveryTimeout = DeliveryPolicy.DEFAULT_TIMEOUT;
        private Duration attemptTimeout = DeliveryPolicy.DEFAULT_ATTEMPT_TIMEOUT;
        private Duration initialBackoff = DeliveryPolicy.DEFAULT_INITIAL_BACKOFF;
        private Duration maxBackoff = DeliveryPolicy.DEFAULT_MAX_BACKOFF;
        private int maxPending = DeliveryPolicy.DEFAULT_MAX_PENDING;
        private boolean shards;

        private Builder() {}

        /**
         * The model path: a sink beside a shard aggregator, delivering each global shard it gets (a
         * MODEL_SHARD directive) on its own to every announced gateway; the coordinator's PUBLISH,
         * through the other sink, tells the gateways when a version is complete.
         */
        public Builder shards() {
            this.shards = true;
            return this;
        }

        /** The largest gRPC message the gateways accept; the model goes in chunks below it. */
        public Builder maxMessageBytes(int bytes) {
            this.maxMessageBytes = bytes;
            return this;
        }

        /** How long one gateway may leave a directive untaken before the job fails. */
        public Builder deliveryTimeout(Duration timeout) {
            this.deliveryTimeout = timeout;
            return this;
        }

        /** The deadline of one delivery attempt (capped by the delivery timeout). */
        public Builder attemptTimeout(Duration timeout) {
            this.attemptTimeout = timeout;
            return this;
        }

        /** The waits between attempts: from {@code initial}, doubling, at most {@code max}. */
        public Builder retryBackoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /** The most directives queued for one gateway before the sink waits for it. */
        public Builder maxPendingPerGateway(int directives) {
            this.maxPending = directives;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the setting that is missing or out of range
         */
        public ModelSink build() {
            if (maxMessageBytes <= 0) {
                throw new IllegalArgumentException(
                        "ModelSink: maxMessageBytes must be set to the gateways' largest message"
                                + " (gateway.max-message-size), got "
                                + maxMessageBytes);
            }
            return new ModelSink(
                    maxMessageBytes,
                    new DeliveryPolicy(
                            deliveryTimeout,
                            attemptTimeout,
                            initialBackoff,
                            maxBackoff,
                            maxPending),
                    shards);
        }
    }
}
