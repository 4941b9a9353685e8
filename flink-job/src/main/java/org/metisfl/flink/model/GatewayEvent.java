package org.metisfl.flink.model;

import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.metisfl.flink.model.serialization.BulkArrayPojoFactory;

/**
 * A record a learner gateway emits into the job (a Flink POJO; one type for all kinds, since a
 * source has one output type). Which fields are set depends on {@link #kind}.
 */
@TypeInfo(BulkArrayPojoFactory.class)
public class GatewayEvent {

    /** What happened at the gateway. */
    public enum Kind {
        /**
         * A gateway started: where the model sink reaches it ({@code gateway, host, port, secret}).
         */
        ANNOUNCE,
        /** A learner joined ({@code learnerId, learnerName, numExamples}). */
        JOINED,
        /** A learner left ({@code learnerId}). */
        LEFT,
        /** A learner's task stream opened at a gateway ({@code learnerId}). */
        CONNECTED,
        /** A learner's task stream closed without a Leave ({@code learnerId}). */
        DISCONNECTED,
        /** A learner's proposed initial model ({@code learnerId, tensors, values}). */
        INITIAL_MODEL,
        /**
         * A round started at a gateway ({@code round, shard, numShards, participantCount, quorum,
         * deadline}).
         */
        ROUND_OPENED,
        /**
         * One shard of an accepted update ({@code learnerId, round, shard, numShards, weight,
         * values}).
         */
        UPDATE_SHARD,
        /**
         * Training metrics of an accepted update ({@code learnerId, round, numExamples, metrics}).
         */
        TRAIN_REPORT,
        /** Metrics of an evaluation ({@code learnerId, round, numExamples, metrics}). */
        EVALUATION,
        /**
         * Asynchronous protocol: one shard of the global model a gateway started from ({@code
         * round} = its version, {@code shard, numShards, values}), so the aggregators know it.
         */
        MODEL_SHARD,
        /**
         * Krum: the updates of a round the coordinator selected ({@code round, shard,
         * participants}).
         */
        SELECTION,
        /**
         * A participant was dropped from a round ({@code learnerId, round, shard, numShards,
         * gateway, gateways}): every gateway sends one per shard, stamped under its stamping lock
         * and refusing the learner's updates for the round from then on, so once a shard has the
         * copies of all gateways it holds every update of the learner it will ever get.
         */
        PARTICIPANT_DROPPED
    }

    public Kind kind;
    public int gateway;
    public String host;
    public int port;
    public String secret;
    public String learnerId;
    public String learnerName;
    public long numExamples;
    public long round;
    public int shard;
    public int numShards;
    public double weight;
    public float[] values;
    public List<String> participants;

    /** A round opening: how many participants its plan has (the list stays at the gateways). */
    public int participantCount;

    public int quorum;
    public long deadline;

    /** A participant's drop: how many gateways send a copy of it. */
    public int gateways;

    public Map<String, Double> metrics;
    public List<TensorSpecInfo> tensors;

    /** Asynchronous protocol: the task an update answers (its identity) and its base version. */
    public String taskId;

    public long baseVersion;

    /** The gateway's timestamp of the record (its event time), kept where state loses it. */
    public long stamp;

    public GatewayEvent() {}

    public static GatewayEvent of(Kind kind) {
        GatewayEvent e = new GatewayEvent();
        e.kind = kind;
        return e;
    }

    @Override
    public String toString() {
        return "GatewayEvent{"
                + kind
                + ", learner="
                + learnerId
                + ", round="
                + round
                + ", shard="
                + shard
                + "/"
                + numShards
                + "}";
    }
}
