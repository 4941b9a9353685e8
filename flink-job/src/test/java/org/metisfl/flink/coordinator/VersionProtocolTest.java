package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.coordinator.CoordinatorTestData.*;

import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.RoundResult;

/**
 * The asynchronous version protocol, run by {@link RoundCoordinator} in Flink's two-input operator
 * harness: versions complete when all their shards are in, publishing is throttled to the publish
 * interval (a processing-time timer sends the newest version late), every k-th version is evaluated
 * by the active learners, and the federation ends after its last version.
 */
class VersionProtocolTest {

    private static final long START = 10_000;

    private static CoordinatorOptions async() {
        return options(
                "protocol.type", "asynchronous",
                "federation.rounds", "3",
                "federation.min-learners", "1",
                "async.evaluate-every", "2",
                "async.publish-interval", "1 s",
                "evaluation.timeout", "5 s");
    }

    @Test
    void versionsArePublishedThrottledEvaluatedEveryKthAndEndTheFederation() throws Exception {
        try (var h = harness(async(), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            Directive v0 = publishes(directives(h)).get(0);
            assertThat(v0.modelVersion).isZero();
            assertThat(v0.planRound).as("versions have no round plan").isZero();
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));

            // Version 1: not an evaluation version, 100 ms after the last publish: held back.
            h.setProcessingTime(START + 100);
            h.processElement2(new StreamRecord<>(shard(1, 0, 2, 1f, "a")));
            h.processElement2(new StreamRecord<>(shard(1, 1, 2, 1f, "a")));
            assertThat(directives(h)).isEmpty();
            h.setProcessingTime(START + 1_000);
            List<Directive> late = directives(h);
            assertThat(publishes(late).get(0).modelVersion).isEqualTo(1);
            assertThat(publishes(late).get(0).evaluators).isEmpty();
            assertThat(model(late, 1)).containsOnly(1f);

            // Version 2 is evaluated by every active learner, published at once.
            h.setProcessingTime(START + 1_200);
            h.processElement2(new StreamRecord<>(shard(2, 1, 2, 2f, "b")));
            h.processElement2(new StreamRecord<>(shard(2, 0, 2, 2f, "b")));
            Directive v2 = publishes(directives(h)).get(0);
            assertThat(v2.modelVersion).isEqualTo(2);
            assertThat(v2.evaluators).containsExactly("a", "b");
            h.processElement1(new StreamRecord<>(evaluation("a", 2, 1, Map.of("acc", 0.2))));
            h.processElement1(new StreamRecord<>(evaluation("b", 2, 3, Map.of("acc", 0.6))));
            RoundResult r2 = results(h).get(0);
            assertThat(r2.round).isEqualTo(2);
            assertThat(r2.contributors)
                    .as("since the last evaluated version")
                    .containsExactly("a", "b");
            assertThat(r2.evalMetrics.get("acc")).isEqualTo((0.2 * 1 + 0.6 * 3) / 4);
            assertThat(r2.last).isFalse();

            // Version 3 is the last: evaluated, then the federation ends.
            h.setProcessingTime(START + 1_300);
            h.processElement2(new StreamRecord<>(shard(3, 0, 2, 3f, "a")));
            h.processElement2(new StreamRecord<>(shard(3, 1, 2, 3f, "a")));
            Directive v3 = publishes(directives(h)).get(0);
            assertThat(v3.finished).isFalse();
            assertThat(v3.evaluators).containsExactly("a", "b");
            h.setProcessingTime(START + 1_300 + 5_000);
            RoundResult r3 = results(h).get(0);
            assertThat(r3.last).isTrue();
            assertThat(r3.evaluationsReceived).isZero();
            Directive end = publishes(directives(h)).get(0);
            assertThat(end.finished).isTrue();
            assertThat(end.finishReason).isEqualTo("completed 3 model versions");
        }
    }

    /** A published version's metadata from the model path (no values). */
    private static org.metisfl.flink.model.GlobalShard direct(
            long version, int shard, boolean evaluate, String... from) {
        org.metisfl.flink.model.GlobalShard g = new org.metisfl.flink.model.GlobalShard();
        g.round = version;
        g.shard = shard;
        g.numShards = 2;
        g.contributors = shard == 0 ? List.of(from) : List.of();
        g.direct = true;
        g.evaluate = evaluate;
        return g;
    }

    @Test
    void onTheModelPathEachPublishedVersionIsPublishedAtOnceByVersionAndEvaluatedAsTheShardsSaid()
            throws Exception {
        CoordinatorOptions options =
                options(
                        "protocol.type", "asynchronous",
                        "federation.rounds", "10",
                        "federation.min-learners", "1",
                        "async.evaluate-interval", "1 s",
                        "async.publish-interval", "1 s",
                        "evaluation.timeout", "5 s");
        try (var h = harness(options, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            assertThat(model(directives(h), 0)).as("version 0 with its values").hasSize(2048);

            // Version 3 (the aggregators published it and sent its shards to the gateways): at
            // once, whatever the coordinator's clock, without values, not evaluated.
            h.setProcessingTime(START + 10);
            h.processElement2(new StreamRecord<>(direct(3, 1, false)));
            h.processElement2(new StreamRecord<>(direct(3, 0, false, "a", "b", "c")));
            List<Directive> v3 = directives(h);
            assertThat(v3).extracting(d -> d.kind).containsExactly(Directive.Kind.PUBLISH);
            assertThat(v3.get(0).modelVersion).isEqualTo(3);
            assertThat(v3.get(0).modelInShards).isTrue();
            assertThat(v3.get(0).evaluators).isEmpty();

            // Version 5: the shards said it is evaluated; its shard 0 comes after version 6's.
            h.processElement2(new StreamRecord<>(direct(5, 1, true)));
            h.processElement2(new StreamRecord<>(direct(6, 0, false, "a")));
            h.processElement2(new StreamRecord<>(direct(5, 0, true, "b")));
            Directive v5 = publishes(directives(h)).get(0);
            assertThat(v5.modelVersion).isEqualTo(5);
            assertThat(v5.evaluators).containsExactly("a");
            h.processElement2(new StreamRecord<>(direct(6, 1, false)));
            Directive v6 = publishes(directives(h)).get(0);
            assertThat(v6.modelVersion).isEqualTo(6);
            assertThat(v6.evaluators).isEmpty();
            h.processElement1(new StreamRecord<>(evaluation("a", 5, 1, Map.of("acc", 0.5))));
            RoundResult r5 = results(h).get(0);
            assertThat(r5.round).isEqualTo(5);
            assertThat(r5.contributors).containsExactlyInAnyOrder("a", "b", "c");
        }
    }

    @Test
    void shardsOfOldVersionsAndBeforeTheInitialModelAreIgnored() throws Exception {
        try (var h = harness(async(), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a")));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            assertThat(publishes(directives(h)).get(0).modelVersion)
                    .as("no learner yet: the initial model is published, training waits")
                    .isZero();
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            directives(h);
            h.setProcessingTime(START + 5_000);
            h.processElement2(new StreamRecord<>(shard(2, 0, 1, 2f, "a")));
            assertThat(publishes(directives(h)).get(0).modelVersion).isEqualTo(2);
            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a")));
            h.setProcessingTime(START + 10_000);
            assertThat(directives(h)).as("version 1 is older than the model").isEmpty();
        }
    }

    /**
     * The race behind the FedAsync two-gateway stall: a gateway hands out a task as soon as it
     * serves the initial model, and the version made of that task's update reaches the coordinator
     * before the learner connections that bring the active learners up to min-learners. The version
     * counts (its update was acknowledged, every shard applied it): it is published when training
     * starts, not dropped.
     */
    @Test
    void aVersionCompleteBeforeTrainingStartsIsPublishedWhenItStarts() throws Exception {
        CoordinatorOptions twoLearners =
                options(
                        "protocol.type", "asynchronous",
                        "federation.rounds", "5",
                        "federation.min-learners", "2",
                        "async.evaluate-every", "5",
                        "async.publish-interval", "1 s",
                        "evaluation.timeout", "5 s");
        try (var h = harness(twoLearners, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            assertThat(publishes(directives(h)).get(0).modelVersion)
                    .as("one learner of two: the initial model is published, training waits")
                    .isZero();

            // a's update, applied by both shards, overtakes b's connection.
            h.setProcessingTime(START + 10);
            h.processElement2(new StreamRecord<>(shard(1, 0, 2, 7f, "a")));
            h.processElement2(new StreamRecord<>(shard(1, 1, 2, 7f, "a")));
            assertThat(publishes(directives(h))).as("training has not started").isEmpty();

            h.setProcessingTime(START + 20);
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            List<Directive> started = directives(h);
            assertThat(publishes(started)).hasSize(1);
            assertThat(publishes(started).get(0).modelVersion).isEqualTo(1);
            assertThat(model(started, 1)).containsOnly(7f);

            // The next version follows on from it.
            h.setProcessingTime(START + 2_000);
            h.processElement2(new StreamRecord<>(shard(2, 0, 2, 9f, "b")));
            h.processElement2(new StreamRecord<>(shard(2, 1, 2, 9f, "b")));
            List<Directive> next = directives(h);
            assertThat(publishes(next).get(0).modelVersion).isEqualTo(2);
            assertThat(model(next, 2)).containsOnly(9f);
        }
    }

    /**
     * With {@code evaluation.max-learners} an evaluated version asks only that many of the active
     * learners, and its results are written once those reported, without waiting for the others.
     */
    @Test
    void anEvaluatedVersionAsksAtMostMaxLearnersAndWaitsOnlyForThem() throws Exception {
        CoordinatorOptions sampled =
                options(
                        "protocol.type", "asynchronous",
                        "federation.rounds", "3",
                        "federation.min-learners", "1",
                        "async.evaluate-every", "1",
                        "async.publish-interval", "1 s",
                        "evaluation.max-learners", "2",
                        "evaluation.timeout", "5 s");
        List<String> all = List.of("a", "b", "c", "d", "e");
        try (var h = harness(sampled, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            for (String l : all) {
                h.processElement1(new StreamRecord<>(joined(l, 1)));
                h.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            directives(h);

            h.setProcessingTime(START + 10);
            h.processElement2(new StreamRecord<>(shard(1, 0, 2, 1f, "a")));
            h.processElement2(new StreamRecord<>(shard(1, 1, 2, 1f, "a")));
            List<String> asked = publishes(directives(h)).get(0).evaluators;
            assertThat(asked).hasSize(2).isSorted();
            assertThat(all).containsAll(asked);
            h.processElement1(
                    new StreamRecord<>(evaluation(asked.get(0), 1, 1, Map.of("acc", 0.5))));
            assertThat(results(h)).as("one of the two asked has not reported yet").isEmpty();
            h.processElement1(
                    new StreamRecord<>(evaluation(asked.get(1), 1, 1, Map.of("acc", 0.7))));
            RoundResult r1 = results(h).get(0);
            assertThat(r1.evaluationsReceived).isEqualTo(2);
            assertThat(r1.evalMetrics.get("acc")).isEqualTo((0.5 + 0.7) / 2);

            h.setProcessingTime(START + 2_000);
            h.processElement2(new StreamRecord<>(shard(2, 0, 2, 2f, "b")));
            h.processElement2(new StreamRecord<>(shard(2, 1, 2, 2f, "b")));
            assertThat(publishes(directives(h)).get(0).evaluators).hasSize(2);
        }
    }
}
