package org.metisfl.flink.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.metisfl.flink.coordinator.CoordinatorTestData.*;

import java.util.List;
import java.util.Map;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.RoundResult;

/**
 * The synchronous and semi-synchronous round protocol, run by {@link RoundCoordinator} in Flink's
 * two-input operator harness: rounds open with their plan, close when every shard is in, publish
 * the new model, gather evaluations into a result, end after the last round, and survive a
 * checkpoint taken in the middle of a round.
 */
class RoundProtocolTest {

    private static final long START = 1_000;

    private static CoordinatorOptions sync(String... more) {
        String[] base = {
            "federation.rounds", "2",
            "federation.min-learners", "2",
            "round.timeout", "60 s",
            "round.quorum", "0.5",
            "evaluation.timeout", "10 s"
        };
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return options(all);
    }

    @Test
    void aRoundOpensWithItsPlanClosesOnItsLastShardAndReportsWeightedMetrics() throws Exception {
        try (var h = harness(sync(), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 3)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            assertThat(directives(h)).as("no model yet: nothing to publish").isEmpty();

            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0.5f))));
            List<Directive> opened = directives(h);
            Directive plan = publishes(opened).get(0);
            assertThat(plan.modelVersion).isZero();
            assertThat(plan.numShards).isEqualTo(2);
            assertThat(plan.planRound).isEqualTo(1);
            assertThat(plan.participants).containsExactly("a", "b");
            assertThat(plan.quorum).isEqualTo(1); // ceil(0.5 * 2)
            assertThat(plan.deadline).isEqualTo(START + 60_000);
            assertThat(model(opened, 0)).containsOnly(0.5f).hasSize(2048);

            h.setProcessingTime(START + 4_000);
            h.processElement1(new StreamRecord<>(trainReport("a", 1, 1, Map.of("loss", 2.0))));
            h.processElement1(new StreamRecord<>(trainReport("b", 1, 3, Map.of("loss", 1.0))));
            h.processElement2(new StreamRecord<>(shard(1, 0, 2, 1f, "a", "b")));
            assertThat(directives(h)).as("one shard of two: the round stays open").isEmpty();
            h.processElement2(new StreamRecord<>(shard(1, 1, 2, 2f, "a", "b")));
            List<Directive> closed = directives(h);
            Directive next = publishes(closed).get(0);
            assertThat(next.modelVersion).isEqualTo(1);
            assertThat(next.planRound).isEqualTo(2);
            assertThat(next.evaluators).containsExactly("a", "b");
            float[] v1 = model(closed, 1);
            assertThat(v1[0]).isEqualTo(1f);
            assertThat(v1[2047]).isEqualTo(2f);
            assertThat(results(h)).as("evaluations pending").isEmpty();

            h.processElement1(new StreamRecord<>(evaluation("a", 1, 1, Map.of("acc", 0.5))));
            h.processElement1(new StreamRecord<>(evaluation("a", 1, 1, Map.of("acc", 0.5))));
            h.processElement1(new StreamRecord<>(evaluation("x", 1, 9, Map.of("acc", 0.0))));
            h.processElement1(new StreamRecord<>(evaluation("b", 1, 3, Map.of("acc", 0.9))));
            List<RoundResult> results = results(h);
            assertThat(results).hasSize(1);
            RoundResult r = results.get(0);
            assertThat(r.federation).isEqualTo(FEDERATION);
            assertThat(r.round).isEqualTo(1);
            assertThat(r.contributors).containsExactly("a", "b");
            assertThat(r.roundTimeMs).isEqualTo(4_000);
            assertThat(r.trainMetrics.get("loss"))
                    .isCloseTo((2.0 * 1 + 1.0 * 3) / 4, within(1e-12));
            assertThat(r.evalMetrics.get("acc")).isCloseTo((0.5 * 1 + 0.9 * 3) / 4, within(1e-12));
            assertThat(r.evaluationsReceived).isEqualTo(2);
            assertThat(r.last).isFalse();
        }
    }

    @Test
    void theLastRoundEndsTheFederationOnceItsEvaluationTimesOut() throws Exception {
        try (var h = harness(sync("federation.rounds", "1"), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            directives(h);
            h.setProcessingTime(START + 100);
            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 3f, "a", "b")));
            Directive finalEvaluation = publishes(directives(h)).get(0);
            assertThat(finalEvaluation.planRound).as("no next round").isZero();
            assertThat(finalEvaluation.finished).isFalse();
            assertThat(finalEvaluation.evaluators).containsExactly("a", "b");

            h.processElement1(new StreamRecord<>(evaluation("a", 1, 2, Map.of("acc", 0.7))));
            assertThat(results(h)).isEmpty();
            h.setProcessingTime(START + 100 + 10_000);
            RoundResult r = results(h).get(0);
            assertThat(r.last).isTrue();
            assertThat(r.evaluators).isEqualTo(2);
            assertThat(r.evaluationsReceived).isEqualTo(1);
            Directive end = publishes(directives(h)).get(0);
            assertThat(end.finished).isTrue();
            assertThat(end.finishReason).isEqualTo("completed 1 rounds");
            assertThat(end.evaluators).isEmpty();
        }
    }

    @Test
    void anAbortedRoundKeepsTheModelAndOpensTheNext() throws Exception {
        try (var h = harness(sync("evaluation.enabled", "false"), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0.25f))));
            directives(h);
            h.setProcessingTime(START + 61_000);
            h.processElement2(new StreamRecord<>(aborted(1, 0, 1)));
            List<Directive> out = directives(h);
            Directive next = publishes(out).get(0);
            assertThat(next.modelVersion).isZero();
            assertThat(next.planRound).isEqualTo(2);
            assertThat(model(out, 0)).containsOnly(0.25f);
            RoundResult r = results(h).get(0);
            assertThat(r.aborted).isTrue();
            assertThat(r.evaluators).isZero();
        }
    }

    @Test
    void aRestartedGatewayGetsTheModelAndThePlanWithAFreshDeadline() throws Exception {
        try (var h = harness(sync(), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            directives(h);
            h.setProcessingTime(START + 10_000);
            h.processElement1(new StreamRecord<>(announce()));
            Directive early = publishes(directives(h)).get(0);
            assertThat(early.planRound).isEqualTo(1);
            assertThat(early.deadline).as("half a round left: kept").isEqualTo(START + 60_000);
            h.setProcessingTime(START + 50_000);
            h.processElement1(new StreamRecord<>(announce()));
            Directive late = publishes(directives(h)).get(0);
            assertThat(late.deadline).isEqualTo(START + 50_000 + 60_000);
        }
    }

    @Test
    void aDisconnectedLearnerIsNotDrawnForTheNextRound() throws Exception {
        try (var h = harness(sync("evaluation.enabled", "false"), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            h.processElement1(new StreamRecord<>(joined("c", 1)));
            h.processElement1(new StreamRecord<>(connectivity("c", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            assertThat(publishes(directives(h)).get(0).participants).containsExactly("a", "b", "c");
            h.processElement1(new StreamRecord<>(connectivity("b", false, 20)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 10))); // older news
            h.processElement1(new StreamRecord<>(left("c")));
            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a")));
            assertThat(publishes(directives(h)).get(0).participants).containsExactly("a");
        }
    }

    @Test
    void aLearnerThatJoinedButNeverStreamedIsNotDrawn() throws Exception {
        try (var h = harness(sync("evaluation.enabled", "false"), "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            for (int i = 0; i < 200; i++) {
                h.processElement1(new StreamRecord<>(joined("silent-" + i, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            assertThat(publishes(directives(h)).get(0).participants).containsExactly("a", "b");
        }
    }

    @Test
    void aParticipantGonePastTheGracePeriodIsDroppedAndOneBackInTimeContinues() throws Exception {
        try (var h =
                harness(
                        sync("evaluation.enabled", "false", "round.participant-grace", "3 s"),
                        "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            for (String l : List.of("a", "b", "c", "d")) {
                h.processElement1(new StreamRecord<>(joined(l, 1)));
                h.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            assertThat(publishes(directives(h)).get(0).participants)
                    .containsExactly("a", "b", "c", "d");

            h.setProcessingTime(START + 1_000);
            h.processElement1(new StreamRecord<>(trainReport("a", 1, 1, Map.of())));
            h.processElement1(new StreamRecord<>(connectivity("a", false, 10))); // contributed
            h.processElement1(new StreamRecord<>(connectivity("b", false, 10)));
            h.processElement1(new StreamRecord<>(connectivity("c", false, 10)));
            h.setProcessingTime(START + 2_000);
            h.processElement1(new StreamRecord<>(connectivity("c", true, 20))); // back in time
            assertThat(directives(h)).isEmpty();

            h.setProcessingTime(START + 3_999);
            assertThat(directives(h)).as("within the grace period").isEmpty();
            h.setProcessingTime(START + 4_000);
            List<Directive> dropped = publishes(directives(h));
            assertThat(dropped).hasSize(1);
            Directive plan = dropped.get(0);
            assertThat(plan.planRound).isEqualTo(1);
            assertThat(plan.dropped).containsExactly("b");
            assertThat(plan.participants).containsExactly("a", "b", "c", "d");
            assertThat(plan.deadline).isEqualTo(START + 60_000);

            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a", "c", "d")));
            List<RoundResult> results = results(h);
            assertThat(results).hasSize(1);
            assertThat(results.get(0).dropped).containsExactly("b");
            assertThat(results.get(0).contributors).containsExactly("a", "c", "d");
            Directive next = publishes(directives(h)).get(0);
            assertThat(next.planRound).isEqualTo(2);
            assertThat(next.participants).as("a and b are gone").containsExactly("c", "d");
            assertThat(next.dropped).isEmpty();
        }
    }

    @Test
    void semiSynchronousRoundsSizeLocalStepsToLambdaTimesTheSlowestEpoch() throws Exception {
        CoordinatorOptions semi =
                sync(
                        "protocol.type", "semi-synchronous",
                        "semi-sync.lambda", "2",
                        "federation.rounds", "3",
                        "evaluation.enabled", "false");
        try (var h = harness(semi, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            h.processElement1(new StreamRecord<>(joined("a", 1)));
            h.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            h.processElement1(new StreamRecord<>(joined("b", 1)));
            h.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            h.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            assertThat(publishes(directives(h)).get(0).localSteps)
                    .as("no speeds measured yet")
                    .isEmpty();
            h.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a", "b")));
            assertThat(publishes(directives(h)))
                    .as("the next round waits for the contributors' speed reports")
                    .allMatch(d -> d.planRound == 0);
            h.processElement1(
                    new StreamRecord<>(
                            trainReport(
                                    "a",
                                    1,
                                    1,
                                    Map.of("ms_per_batch", 10.0, "ms_per_epoch", 100.0))));
            assertThat(directives(h)).isEmpty();
            h.processElement1(
                    new StreamRecord<>(
                            trainReport(
                                    "b",
                                    1,
                                    1,
                                    Map.of("ms_per_batch", 20.0, "ms_per_epoch", 400.0))));
            Directive round2 = publishes(directives(h)).get(0);
            assertThat(round2.planRound).isEqualTo(2);
            // budget = 2 x 400 ms; a: 800 / 10, b: 800 / 20
            assertThat(round2.localSteps)
                    .containsExactlyInAnyOrderEntriesOf(Map.of("a", 80L, "b", 40L));
        }
    }

    @Test
    void krumSelectsFromTheSummedDistancesOfAllShardsThenAveragesTheSelection() throws Exception {
        CoordinatorOptions krum =
                sync(
                        "aggregation.rule", "krum",
                        "aggregation.krum-byzantine", "0",
                        "evaluation.enabled", "false");
        try (var h = harness(krum, "hashmap")) {
            h.open();
            h.setProcessingTime(START);
            for (String l : List.of("a", "b", "c", "d")) {
                h.processElement1(new StreamRecord<>(joined(l, 1)));
                h.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            h.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            directives(h);
            // Pairwise squared distances of a, b, c, d, split over two shards: d is far from all.
            double[] total = {
                0, 1, 1, 9,
                1, 0, 1, 9,
                1, 1, 0, 9,
                9, 9, 9, 0
            };
            double[] half = new double[16];
            for (int i = 0; i < 16; i++) {
                half[i] = total[i] / 2;
            }
            for (int s = 0; s < 2; s++) {
                var g = shard(1, s, 2, 0f, "a", "b", "c", "d");
                g.values = null;
                g.distances = half;
                h.processElement2(new StreamRecord<>(g));
            }
            Directive choice = publishes(directives(h)).get(0);
            assertThat(choice.selectionRound).isEqualTo(1);
            // f = 0: each score sums the n - 2 = 2 nearest distances; a, b, c all score 2.
            assertThat(choice.selection).hasSize(1).isSubsetOf("a", "b", "c");
            h.processElement2(new StreamRecord<>(shard(1, 0, 2, 5f, choice.selection.get(0))));
            h.processElement2(new StreamRecord<>(shard(1, 1, 2, 5f, choice.selection.get(0))));
            Directive next = publishes(directives(h)).get(0);
            assertThat(next.modelVersion).isEqualTo(1);
            assertThat(next.planRound).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void aRoundSurvivesACheckpointTakenBetweenItsShards(String backend) throws Exception {
        OperatorSubtaskState snapshot;
        try (var before = harness(sync("evaluation.enabled", "false"), backend)) {
            before.open();
            before.setProcessingTime(START);
            before.processElement1(new StreamRecord<>(joined("a", 1)));
            before.processElement1(new StreamRecord<>(connectivity("a", true, 1)));
            before.processElement1(new StreamRecord<>(joined("b", 1)));
            before.processElement1(new StreamRecord<>(connectivity("b", true, 1)));
            before.processElement1(new StreamRecord<>(initialModel("a", filled(2048, 0f))));
            before.processElement2(new StreamRecord<>(shard(1, 0, 2, 7f, "a", "b")));
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 1);
            // After the checkpoint: must not be in the restored state.
            before.processElement2(new StreamRecord<>(shard(1, 1, 2, 100f, "a", "b")));
        }
        try (var after = harness(sync("evaluation.enabled", "false"), backend)) {
            after.initializeState(snapshot);
            after.open();
            after.setProcessingTime(START + 500);
            after.processElement2(new StreamRecord<>(shard(1, 0, 2, 99f, "a", "b"))); // again
            assertThat(directives(after)).isEmpty();
            after.processElement2(new StreamRecord<>(shard(1, 1, 2, 8f, "a", "b")));
            List<Directive> out = directives(after);
            Directive next = publishes(out).get(0);
            assertThat(next.modelVersion).isEqualTo(1);
            assertThat(next.planRound).isEqualTo(2);
            float[] v1 = model(out, 1);
            assertThat(v1[0]).isEqualTo(7f);
            assertThat(v1[1024]).isEqualTo(8f);
            assertThat(results(after).get(0).roundTimeMs).isEqualTo(500);
        }
    }

    @Test
    void afterARestartParticipantsThatDoNotReconnectAreDroppedAndNotDrawnAgain() throws Exception {
        OperatorSubtaskState snapshot;
        CoordinatorOptions options =
                sync(
                        "evaluation.enabled",
                        "false",
                        "round.participant-grace",
                        "2 s",
                        "round.restart-grace",
                        "7 s");
        try (var before = harness(options, "hashmap")) {
            before.open();
            before.setProcessingTime(START);
            for (String l : List.of("a", "b", "c")) {
                before.processElement1(new StreamRecord<>(joined(l, 1)));
                before.processElement1(new StreamRecord<>(connectivity(l, true, 1)));
            }
            before.processElement1(new StreamRecord<>(initialModel("a", filled(1024, 0f))));
            before.processElement1(new StreamRecord<>(trainReport("a", 1, 1, Map.of())));
            before.prepareSnapshotPreBarrier(1);
            snapshot = before.snapshot(1, 1);
        }
        try (var after = harness(options, "hashmap")) {
            after.initializeState(snapshot);
            after.open();
            // Every task stream died with the job; no DISCONNECTED reports it.
            after.setProcessingTime(START + 10_000);
            after.processElement1(new StreamRecord<>(announce()));
            after.setProcessingTime(START + 11_000);
            after.processElement1(new StreamRecord<>(connectivity("b", true, 100)));
            directives(after);

            long checkAt = START + 10_000 + 2_000 + 7_000;
            after.setProcessingTime(checkAt - 1);
            assertThat(directives(after)).isEmpty();
            after.setProcessingTime(checkAt);
            List<Directive> dropped = publishes(directives(after));
            assertThat(dropped).hasSize(1);
            assertThat(dropped.get(0).dropped)
                    .as("a contributed before the restart; b came back")
                    .containsExactly("c");

            after.processElement2(new StreamRecord<>(shard(1, 0, 1, 1f, "a", "b")));
            assertThat(results(after).get(0).dropped).containsExactly("c");
            assertThat(publishes(directives(after)).get(0).participants)
                    .as("only b reconnected")
                    .containsExactly("b");
        }
    }
}
