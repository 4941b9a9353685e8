package org.metisfl.flink.connector.gateway;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.connector.gateway.enumerator.GatewayEnumerator;
import org.metisfl.flink.connector.gateway.enumerator.GatewayEnumeratorState;
import org.metisfl.flink.connector.gateway.enumerator.GatewayEnumeratorStateSerializer;
import org.metisfl.flink.connector.gateway.reader.GatewayReader;
import org.metisfl.flink.connector.gateway.security.GatewaySecurity;
import org.metisfl.flink.connector.gateway.server.TokenAuthority;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;
import org.metisfl.flink.connector.gateway.split.GatewaySplitSerializer;
import org.metisfl.flink.model.GatewayEvent;

/**
 * The learner gateway as a Flink source: each subtask hosts a gRPC server for learners (gateway i
 * listens on {@code gateway.port + i}) and emits what they send as {@link GatewayEvent}s. Run it
 * with the parallelism {@code gateway.parallelism}; it watermarks itself, so use {@code
 * WatermarkStrategy.noWatermarks()}.
 *
 * <pre>{@code
 * DataStream<GatewayEvent> events = env.fromSource(
 *         LearnerGatewaySource.builder().options(GatewayOptions.from(config)).build(),
 *         WatermarkStrategy.noWatermarks(), "learner-gateway")
 *     .setParallelism(config.gatewayParallelism());
 * }</pre>
 */
public final class LearnerGatewaySource
        implements Source<GatewayEvent, GatewaySplit, GatewayEnumeratorState> {
    private static final long serialVersionUID = 1L;

    private final GatewayOptions options;
    private final GatewaySecurity security;
    private final PartialSums.Factory preAggregation;

    LearnerGatewaySource(
            GatewayOptions options, GatewaySecurity security, PartialSums.Factory preAggregation) {
        this.options = options;
        this.security = security;
        this.preAggregation = preAggregation;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SplitEnumerator<GatewaySplit, GatewayEnumeratorState> createEnumerator(
            SplitEnumeratorContext<GatewaySplit> context) {
        List<Integer> gateways = new ArrayList<>();
        for (int i = 0; i < options.gatewayParallelism(); i++) {
            gateways.add(i);
        }
        return new GatewayEnumerator(
                context, new GatewayEnumeratorState(TokenAuthority.newSecret(), gateways));
    }

    @Override
    public SplitEnumerator<GatewaySplit, GatewayEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<GatewaySplit> context, GatewayEnumeratorState checkpoint) {
        return new GatewayEnumerator(context, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<GatewaySplit> getSplitSerializer() {
        return GatewaySplitSerializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<GatewayEnumeratorState> getEnumeratorCheckpointSerializer() {
        return GatewayEnumeratorStateSerializer.INSTANCE;
    }

    @Override
    public SourceReader<GatewayEvent, GatewaySplit> createReader(SourceReaderContext context) {
        return new GatewayReader(
                context,
                options,
                security,
                System::currentTimeMillis,
                preAggregation == null
                        ? null
                        : preAggregation.create(
                                context.getIndexOfSubtask(), options.gatewayParallelism()));
    }

    /** Builds a {@link LearnerGatewaySource}. */
    public static final class Builder {
        private GatewayOptions options;
        private GatewaySecurity security;
        private PartialSums.Factory preAggregation;

        Builder() {}

        /**
         * Folds the updates each reader takes in one poll into partial aggregates of this rule
         * (local pre-aggregation; see {@link PartialSums}). Off (null) by default.
         */
        public Builder preAggregation(PartialSums.Factory preAggregation) {
            this.preAggregation = preAggregation;
            return this;
        }

        /** TLS, admission and token settings of the learner port (required). */
        public Builder security(GatewaySecurity security) {
            this.security = security;
            return this;
        }

        /** The gateway's options (required). */
        public Builder options(GatewayOptions options) {
            this.options = options;
            return this;
        }

        /** The gateway's options, taken from a federation's validated configuration. */
        public Builder config(FederationConfig config) {
            return options(GatewayOptions.from(config)).security(GatewaySecurity.from(config));
        }

        public LearnerGatewaySource build() {
            if (options == null) {
                throw new IllegalStateException(
                        "LearnerGatewaySource needs its options: call options(GatewayOptions.from"
                                + "(config)) or config(config)");
            }
            if (security == null) {
                throw new IllegalStateException(
                        "LearnerGatewaySource needs its security settings: call"
                                + " security(GatewaySecurity.from(config))");
            }
            return new LearnerGatewaySource(options, security, preAggregation);
        }
    }
}
