package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.state.FlushingKeyedCoProcessOperator;

/** Records and harnesses for the coordinator's tests: one federation named "fed". */
final class CoordinatorTestData {
    static final String FEDERATION = "fed";

    private CoordinatorTestData() {}

    static CoordinatorOptions options(String... keyValues) {
        Map<String, String> settings = new java.util.HashMap<>();
        settings.put("federation.name", FEDERATION);
        settings.put("aggregation.shard-size", "1024");
        for (int i = 0; i < keyValues.length; i += 2) {
            settings.put(keyValues[i], keyValues[i + 1]);
        }
        return CoordinatorOptions.from(FederationConfig.of(settings));
    }

    /** The coordinator in Flink's two-input operator harness, on the given state backend. */
    static KeyedTwoInputStreamOperatorTestHarness<String, GatewayEvent, GlobalShard, Directive>
            harness(CoordinatorOptions options, String backend) throws Exception {
        var h =
                new KeyedTwoInputStreamOperatorTestHarness<>(
                        new FlushingKeyedCoProcessOperator<>(new RoundCoordinator(options)),
                        e -> FEDERATION,
                        g -> FEDERATION,
                        TypeInformation.of(String.class));
        StateBackend b =
                backend.equals("rocksdb")
                        ? new EmbeddedRocksDBStateBackend()
                        : new HashMapStateBackend();
        h.setStateBackend(b);
        return h;
    }

    static GatewayEvent joined(String learner, long examples) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.JOINED);
        e.learnerId = learner;
        e.learnerName = "name-" + learner;
        e.numExamples = examples;
        return e;
    }

    static GatewayEvent left(String learner) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.LEFT);
        e.learnerId = learner;
        return e;
    }

    static GatewayEvent connectivity(String learner, boolean connected, long stamp) {
        GatewayEvent e =
                GatewayEvent.of(
                        connected ? GatewayEvent.Kind.CONNECTED : GatewayEvent.Kind.DISCONNECTED);
        e.learnerId = learner;
        e.stamp = stamp;
        return e;
    }

    static GatewayEvent announce() {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ANNOUNCE);
        e.gateway = 0;
        e.host = "127.0.0.1";
        e.port = 1;
        return e;
    }

    /** An initial model of one tensor holding {@code values}. */
    static GatewayEvent initialModel(String learner, float[] values) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.INITIAL_MODEL);
        e.learnerId = learner;
        e.tensors = List.of(new TensorSpecInfo("w", new long[] {values.length}));
        e.values = Payload.dense(values);
        return e;
    }

    static GatewayEvent trainReport(
            String learner, long round, long examples, Map<String, Double> metrics) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.TRAIN_REPORT);
        e.learnerId = learner;
        e.round = round;
        e.numExamples = examples;
        e.metrics = metrics;
        return e;
    }

    static GatewayEvent evaluation(
            String learner, long round, long examples, Map<String, Double> metrics) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.EVALUATION);
        e.learnerId = learner;
        e.round = round;
        e.numExamples = examples;
        e.metrics = metrics;
        return e;
    }

    static GlobalShard shard(long round, int shard, int numShards, float value, String... from) {
        GlobalShard g = new GlobalShard();
        g.round = round;
        g.shard = shard;
        g.numShards = numShards;
        g.values = Payload.dense(filled(1024, value));
        g.contributors = List.of(from);
        g.totalWeight = from.length;
        return g;
    }

    static GlobalShard aborted(long round, int shard, int numShards) {
        GlobalShard g = new GlobalShard();
        g.round = round;
        g.shard = shard;
        g.numShards = numShards;
        g.aborted = true;
        g.contributors = List.of();
        return g;
    }

    static float[] filled(int n, float value) {
        float[] v = new float[n];
        Arrays.fill(v, value);
        return v;
    }

    /** The directives emitted so far (and forgets them). */
    static List<Directive> directives(
            KeyedTwoInputStreamOperatorTestHarness<String, GatewayEvent, GlobalShard, Directive>
                    h) {
        List<Directive> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            if (o instanceof StreamRecord<?> r) {
                out.add((Directive) r.getValue());
            }
        }
        h.getOutput().clear();
        return out;
    }

    /** The PUBLISH directives among {@code directives}. */
    static List<Directive> publishes(List<Directive> directives) {
        return directives.stream().filter(d -> d.kind == Directive.Kind.PUBLISH).toList();
    }

    /** The model a run of MODEL_SHARD directives carries, assembled by offset. */
    static float[] model(List<Directive> directives, long version) {
        int total = 0;
        for (Directive d : directives) {
            if (d.kind == Directive.Kind.MODEL_SHARD && d.modelVersion == version) {
                total = Math.max(total, d.offset + d.values.size());
            }
        }
        float[] values = new float[total];
        for (Directive d : directives) {
            if (d.kind == Directive.Kind.MODEL_SHARD && d.modelVersion == version) {
                System.arraycopy(d.values.values(), 0, values, d.offset, d.values.size());
            }
        }
        return values;
    }

    /** The round results emitted so far (and forgets them). */
    static List<RoundResult> results(
            KeyedTwoInputStreamOperatorTestHarness<String, GatewayEvent, GlobalShard, Directive>
                    h) {
        List<RoundResult> out = new ArrayList<>();
        var q = h.getSideOutput(RoundCoordinator.RESULTS);
        if (q != null) {
            for (StreamRecord<RoundResult> r : q) {
                out.add(r.getValue());
            }
            q.clear();
        }
        return out;
    }
}
