package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.rule.FedAsync;
import org.metisfl.flink.aggregation.rule.FedAvg;
import org.metisfl.flink.aggregation.rule.FedBuff;
import org.metisfl.flink.aggregation.rule.FedRec;
import org.metisfl.flink.aggregation.rule.Median;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GatewayEvent.Kind;
import org.metisfl.flink.model.Payload;

class PartialSumsTest {

    private final FedAvg fedavg = new FedAvg();
    private final List<GatewayEvent> out = new ArrayList<>();
    private final List<Long> times = new ArrayList<>();
    private final PartialSums.Emitter emitter =
            (e, t) -> {
                out.add(e);
                times.add(t);
            };

    @Test
    void foldsTheUpdatesOfOnePollIntoOnePartialPerShard() {
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 1);
        p.offer(List.of(opened(1, 0), opened(1, 1)), 1, emitter);
        p.offer(List.of(opened(2, 0), opened(2, 1)), 2, emitter); // round 1 was open at start
        out.clear();
        times.clear();
        p.offer(update("a", 2, 1.0, new float[] {1f, 2f}, new float[] {3f}), 10, emitter);
        p.offer(update("b", 2, 3.0, new float[] {5f, 6f}, new float[] {7f}), 11, emitter);
        p.offer(update("c", 2, 4.0, new float[] {-1f, 0f}, new float[] {2f}), 12, emitter);
        assertThat(out).isEmpty();
        p.flush(emitter);

        assertThat(out).extracting(GatewayEvent::kind).containsOnly(Kind.PARTIAL_SHARD);
        assertThat(out).extracting(GatewayEvent::shard).containsExactly(0, 1);
        assertThat(times).containsOnly(12L);
        for (GatewayEvent e : out) {
            assertThat(e.participants()).containsExactly("a", "b", "c");
            assertThat(e.weight()).isEqualTo(8.0);
            assertThat(e.round()).isEqualTo(2);
            assertThat(e.numShards()).isEqualTo(2);
        }
        // Weighted means computed by hand: (1*1 + 3*5 + 4*-1) / 8, (1*2 + 3*6 + 0) / 8, ...
        assertThat(fedavg.result(PartialSums.accumulatorOf(out.get(0), fedavg)).values())
                .containsExactly(12f / 8f, 20f / 8f);
        assertThat(fedavg.result(PartialSums.accumulatorOf(out.get(1), fedavg)).values())
                .containsExactly((3f + 21f + 8f) / 8f);
        assertThat(p.isEmpty()).isTrue();
    }

    @Test
    void aLoneUpdateGoesOnAsItIs() {
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 1);
        p.offer(List.of(opened(1, 0)), 1, emitter);
        p.offer(List.of(opened(2, 0)), 2, emitter);
        out.clear();
        times.clear();
        List<GatewayEvent> a = update("a", 2, 1.0, new float[] {1f});
        p.offer(a, 5, emitter);
        p.flush(emitter);
        assertThat(out).containsExactlyElementsOf(a);
        assertThat(times).containsExactly(5L);
    }

    @Test
    void theRoundOpenAtStartIsNeverFolded() {
        // After a restore, the round open then may already count updates that learners send
        // again: they must reach the aggregators one by one, to be deduplicated there.
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 1);
        p.offer(List.of(opened(7, 0)), 1, emitter);
        p.offer(update("a", 7, 1.0, new float[] {1f}), 2, emitter);
        p.offer(update("b", 7, 1.0, new float[] {2f}), 3, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.ROUND_OPENED, Kind.UPDATE_SHARD, Kind.UPDATE_SHARD);
    }

    @Test
    void aSecondCopyOfAnUpdateIsFoldedOnce() {
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 1);
        p.offer(List.of(opened(1, 0)), 1, emitter);
        p.offer(List.of(opened(2, 0)), 2, emitter);
        out.clear();
        times.clear();
        p.offer(update("a", 2, 1.0, new float[] {1f}), 3, emitter);
        p.offer(update("b", 2, 1.0, new float[] {3f}), 4, emitter);
        p.flush(emitter);
        p.offer(update("a", 2, 1.0, new float[] {1f}), 5, emitter); // a resend, next poll
        p.offer(update("a", 2, 1.0, new float[] {1f}), 6, emitter);
        p.flush(emitter);
        assertThat(out).hasSize(1);
        assertThat(out.get(0).participants()).containsExactly("a", "b");
    }

    @Test
    void aDropLeavesAfterTheUpdatesFoldedBeforeIt() {
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 1);
        p.offer(List.of(opened(1, 0)), 1, emitter);
        p.offer(List.of(opened(2, 0)), 2, emitter);
        out.clear();
        times.clear();
        p.offer(update("a", 2, 1.0, new float[] {1f}), 3, emitter);
        p.offer(update("b", 2, 1.0, new float[] {3f}), 4, emitter);
        GatewayEvent drop = GatewayEvent.participantDropped(0, 1, "b", 2, 0, 1);
        p.offer(List.of(drop), 5, emitter);
        p.offer(update("c", 2, 1.0, new float[] {5f}), 6, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.PARTIAL_SHARD, Kind.PARTICIPANT_DROPPED, Kind.UPDATE_SHARD);
        assertThat(out.get(0).participants()).containsExactly("a", "b");
    }

    @Test
    void withTwoGatewaysAGatewayFoldsOnlyTheLearnersItIsHomeToAndMarksTheOthersForeign() {
        String a = homedAt("a", 0, 2);
        String b = homedAt("b", 0, 2);
        String c = homedAt("c", 1, 2);
        PartialSums p = new PartialSums.Factory(fedavg).create(0, 2);
        p.offer(List.of(opened(1, 0)), 1, emitter);
        p.offer(List.of(opened(2, 0)), 2, emitter);
        out.clear();
        p.offer(update(a, 2, 1.0, new float[] {1f}), 3, emitter);
        p.offer(update(c, 2, 1.0, new float[] {9f}), 4, emitter); // c's home is gateway 1
        p.offer(update(b, 2, 1.0, new float[] {3f}), 5, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
        assertThat(out.get(0).learnerId()).isEqualTo(c);
        assertThat(out.get(0).foreign).isTrue();
        assertThat(out.get(1).participants()).containsExactly(a, b);
        // A lone update of a learner it is home to goes on unmarked (the aggregators add it).
        out.clear();
        String d = homedAt("d", 0, 2);
        p.offer(update(d, 2, 1.0, new float[] {1f}), 6, emitter);
        p.flush(emitter);
        assertThat(out).singleElement().extracting(e -> e.foreign).isEqualTo(false);
        assertThat(p.foreignSent()).isEqualTo(1);
        assertThat(p.updatesFolded()).isEqualTo(3); // a, b and d (a lone one counts too)
        assertThat(p.partialsEmitted()).isEqualTo(1);
    }

    @Test
    void theHomeGatewayIsAFixedFunctionOfTheIdAndTheIdsAGatewayIssuesAreHomedThere() {
        // (h ^ h >>> 16) mod n of Java's String.hashCode, computed by hand: "a" is 97, "b" 98.
        assertThat(PartialSums.homeGateway("a", 2)).isEqualTo(1);
        assertThat(PartialSums.homeGateway("b", 2)).isEqualTo(0);
        assertThat(PartialSums.homeGateway("b", 3)).isEqualTo(2);
        assertThat(PartialSums.homeGateway("anything", 1)).isZero();
        int[] next = {0};
        for (int g = 0; g < 3; g++) {
            for (int i = 0; i < 20; i++) {
                String id = PartialSums.homedLearnerId(() -> "learner-" + next[0]++, g, 3);
                assertThat(PartialSums.homeGateway(id, 3)).isEqualTo(g);
            }
        }
    }

    /** A learner id, {@code prefix} followed by a number, whose home is {@code gateway}. */
    static String homedAt(String prefix, int gateway, int gateways) {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (PartialSums.homeGateway(id, gateways) == gateway) {
                return id;
            }
        }
    }

    @Test
    void rulesThatCannotMergeAreRefused() {
        assertThatThrownBy(() -> new PartialSums.Factory(new Median()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot merge");
    }

    // Asynchronous folding (FedBuff).

    private static final String RUN = "a-run1-";

    private PartialSums asyncSums(int gateway, int gateways) {
        PartialSums p = PartialSums.Factory.async(new FedBuff(4, 1.0)).create(gateway, gateways);
        p.foldTasksOf(t -> t.startsWith(RUN));
        return p;
    }

    @Test
    void asynchronousUpdatesOfOneBaseVersionAreFoldedIntoSumsWithTheirTasks() {
        PartialSums p = asyncSums(0, 1);
        p.offer(
                asyncUpdate("a", RUN + "1", 3, new float[] {1f, 2f}, new float[] {3f}),
                10,
                emitter);
        p.offer(
                asyncUpdate("b", RUN + "2", 3, new float[] {5f, 6f}, new float[] {7f}),
                11,
                emitter);
        p.offer(
                asyncUpdate("c", RUN + "3", 3, new float[] {-1f, 0.5f}, new float[] {2f}),
                12,
                emitter);
        assertThat(out).isEmpty();
        p.flush(emitter);
        assertThat(out).extracting(GatewayEvent::kind).containsOnly(Kind.PARTIAL_SHARD);
        assertThat(out).extracting(GatewayEvent::shard).containsExactly(0, 1);
        assertThat(times).containsOnly(12L);
        for (GatewayEvent e : out) {
            assertThat(e.isAsyncPartial()).isTrue();
            assertThat(e.baseVersion()).isEqualTo(3);
            assertThat(e.participants()).containsExactly("a", "b", "c");
            assertThat(e.tasks()).containsExactly(RUN + "1", RUN + "2", RUN + "3");
            // placed by its last update: stamped latest
            assertThat(e.learnerId()).isEqualTo("c");
            assertThat(e.taskId()).isEqualTo(RUN + "3");
            assertThat(e.stamp()).isEqualTo(12);
        }
        assertThat(PartialSums.asyncSumOf(out.get(0))).containsExactly(5.0, 8.5);
        assertThat(PartialSums.asyncSumOf(out.get(1))).containsExactly(12.0);
    }

    @Test
    void asynchronousUpdatesAreFoldedPerBaseVersion() {
        PartialSums p = asyncSums(0, 1);
        p.offer(asyncUpdate("a", RUN + "1", 3, new float[] {1f}), 10, emitter);
        p.offer(asyncUpdate("b", RUN + "2", 4, new float[] {2f}), 11, emitter);
        p.offer(asyncUpdate("c", RUN + "3", 3, new float[] {4f}), 12, emitter);
        p.flush(emitter);
        assertThat(out).hasSize(2);
        GatewayEvent base3 = out.get(0);
        assertThat(base3.kind()).isEqualTo(Kind.PARTIAL_SHARD);
        assertThat(base3.baseVersion()).isEqualTo(3);
        assertThat(base3.participants()).containsExactly("a", "c");
        assertThat(PartialSums.asyncSumOf(base3)).containsExactly(5.0);
        GatewayEvent base4 = out.get(1);
        assertThat(base4.kind()).as("a lone update goes on as it is").isEqualTo(Kind.UPDATE_SHARD);
        assertThat(base4.learnerId()).isEqualTo("b");
        assertThat(base4.foreign).isFalse();
    }

    @Test
    void onlyTasksThisGatewayRunHandedOutAreFolded() {
        PartialSums p = asyncSums(0, 1);
        // Two tasks of an earlier run (handed out before a restart): they travel one by one, not
        // foreign (with one gateway nobody else folds them).
        p.offer(asyncUpdate("a", "a-run0-1", 3, new float[] {1f}), 10, emitter);
        p.offer(asyncUpdate("b", "a-run0-2", 3, new float[] {2f}), 11, emitter);
        p.offer(asyncUpdate("c", RUN + "3", 3, new float[] {4f}), 12, emitter);
        p.offer(asyncUpdate("d", RUN + "4", 3, new float[] {8f}), 13, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.UPDATE_SHARD, Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
        assertThat(out.get(0).foreign).isFalse();
        assertThat(out.get(2).participants()).containsExactly("c", "d");
    }

    @Test
    void nothingIsFoldedBeforeTheRunsGatewayStarted() {
        PartialSums p = PartialSums.Factory.async(new FedBuff(4, 1.0)).create(0, 1);
        p.offer(asyncUpdate("c", RUN + "3", 3, new float[] {4f}), 12, emitter);
        p.offer(asyncUpdate("d", RUN + "4", 3, new float[] {8f}), 13, emitter);
        p.flush(emitter);
        assertThat(out).extracting(GatewayEvent::kind).containsOnly(Kind.UPDATE_SHARD);
    }

    @Test
    void withSeveralGatewaysAnotherRunsTaskGoesOnForeignAndThisRunsTaskIsFoldedWhateverTheHome() {
        PartialSums p = asyncSums(1, 2);
        String homedAt0 = idHomedAt(0, 2);
        String homedAt1 = idHomedAt(1, 2);
        // A resend through gateway 1 of a task gateway 0 handed out: gateway 0 may fold a copy.
        p.offer(asyncUpdate(homedAt0, "a-other-1", 3, new float[] {1f}), 10, emitter);
        // Tasks gateway 1's run handed out: only it can have them, home or not.
        p.offer(asyncUpdate(homedAt0, RUN + "2", 3, new float[] {2f}), 11, emitter);
        p.offer(asyncUpdate(homedAt1, RUN + "3", 3, new float[] {4f}), 12, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.UPDATE_SHARD, Kind.PARTIAL_SHARD);
        assertThat(out.get(0).foreign).isTrue();
        assertThat(out.get(1).participants()).containsExactly(homedAt0, homedAt1);
        assertThat(p.foreignSent()).isEqualTo(1);
    }

    @Test
    void aResentCopyOfAFoldedTaskIsNotFoldedAgain() {
        PartialSums p = asyncSums(0, 1);
        p.offer(asyncUpdate("a", RUN + "1", 3, new float[] {1f}), 10, emitter);
        p.offer(asyncUpdate("b", RUN + "2", 3, new float[] {2f}), 11, emitter);
        p.offer(asyncUpdate("a", RUN + "1", 3, new float[] {1f}), 12, emitter); // same poll
        p.flush(emitter);
        p.offer(asyncUpdate("a", RUN + "1", 3, new float[] {1f}), 13, emitter); // a later poll
        p.offer(asyncUpdate("c", RUN + "3", 3, new float[] {4f}), 14, emitter);
        p.flush(emitter);
        assertThat(out).hasSize(2);
        assertThat(out.get(0).participants()).containsExactly("a", "b");
        assertThat(PartialSums.asyncSumOf(out.get(0))).containsExactly(3.0);
        assertThat(out.get(1).kind()).isEqualTo(Kind.UPDATE_SHARD);
        assertThat(out.get(1).learnerId()).isEqualTo("c");
    }

    @Test
    void
            overManyVersionsOneTaskPerLearnerIsRememberedAndCopiesOfOldAndLatestTasksAreStillDropped() {
        // The benchmark's async.max-staleness of 1,000,000: no version ever stops being admitted,
        // so nothing may be forgotten by age. 10 learners, 20,000 updates over 2,000 versions, each
        // learner's tasks numbered in the order the run hands them out.
        PartialSums p = asyncSums(0, 1);
        int learners = 10;
        int versions = 2_000;
        long issued = 0;
        long t = 0;
        for (int v = 0; v < versions; v++) {
            for (int l = 0; l < learners; l++) {
                p.offer(asyncUpdate("l" + l, RUN + (++issued), v, new float[] {1f}), t++, emitter);
            }
            p.offer(List.of(GatewayEvent.modelServed(0, v + 1, 0, 1)), t++, emitter);
            out.clear();
        }
        assertThat(p.updatesFolded()).isEqualTo((long) learners * versions);
        assertThat(p.rememberedLearners()).isEqualTo(learners);

        // Every learner sends its first task's update again (2,000 versions old) and its latest:
        // neither is folded nor sent on.
        for (int l = 0; l < learners; l++) {
            p.offer(asyncUpdate("l" + l, RUN + (l + 1), 0, new float[] {1f}), t++, emitter);
            long latest = issued - learners + l + 1;
            p.offer(
                    asyncUpdate("l" + l, RUN + latest, versions - 1, new float[] {1f}),
                    t++,
                    emitter);
        }
        p.flush(emitter);
        assertThat(out).isEmpty();
        assertThat(p.updatesFolded()).isEqualTo((long) learners * versions);

        // A new task's update is folded as before.
        p.offer(asyncUpdate("l3", RUN + (issued + 1), versions, new float[] {1f}), t++, emitter);
        p.flush(emitter);
        assertThat(out).extracting(GatewayEvent::learnerId).containsExactly("l3");
        assertThat(p.rememberedLearners()).isEqualTo(learners);
    }

    @Test
    void aTaskIdWithoutTheRunsSequenceNumberIsNotFolded() {
        PartialSums p = asyncSums(0, 1);
        p.offer(asyncUpdate("a", RUN + "x", 3, new float[] {1f}), 10, emitter);
        p.offer(asyncUpdate("b", RUN + "0", 3, new float[] {2f}), 11, emitter);
        p.flush(emitter);
        assertThat(out).extracting(GatewayEvent::kind).containsOnly(Kind.UPDATE_SHARD);
        assertThat(p.updatesFolded()).isZero();
        assertThat(PartialSums.taskSequence("a-0-abc-42")).isEqualTo(42);
        assertThat(PartialSums.taskSequence("a-0-abc-")).isEqualTo(-1);
    }

    @Test
    void aPartialHoldsAtMostTheBuffersKUpdatesAndTheNextStartsAnother() {
        // K = 4 (asyncSums): six updates of one base version in one poll make a partial of four,
        // which leaves at once, and one of two.
        PartialSums p = asyncSums(0, 1);
        for (int i = 0; i < 6; i++) {
            p.offer(asyncUpdate("l" + i, RUN + (i + 1), 3, new float[] {i}), 10 + i, emitter);
        }
        assertThat(out).hasSize(1);
        p.flush(emitter);
        assertThat(out).hasSize(2);
        assertThat(out.get(0).participants()).containsExactly("l0", "l1", "l2", "l3");
        assertThat(PartialSums.asyncSumOf(out.get(0))).containsExactly(6.0);
        assertThat(times.get(0)).isEqualTo(13L);
        assertThat(out.get(1).participants()).containsExactly("l4", "l5");
        assertThat(PartialSums.asyncSumOf(out.get(1))).containsExactly(9.0);
    }

    @Test
    void aModelServedLeavesAfterThePartialsOfItsPoll() {
        PartialSums p = asyncSums(0, 1);
        p.offer(asyncUpdate("a", RUN + "1", 3, new float[] {1f}), 10, emitter);
        p.offer(asyncUpdate("b", RUN + "2", 3, new float[] {2f}), 11, emitter);
        p.offer(List.of(GatewayEvent.modelServed(0, 4, 0, 1)), 12, emitter);
        p.offer(asyncUpdate("c", RUN + "3", 3, new float[] {4f}), 13, emitter);
        p.flush(emitter);
        assertThat(out)
                .extracting(GatewayEvent::kind)
                .containsExactly(Kind.PARTIAL_SHARD, Kind.MODEL_SERVED, Kind.UPDATE_SHARD);
    }

    @Test
    void asynchronousRulesThatCannotMergeAreRefused() {
        assertThat(new FedBuff(2, 1.0).mergesPartials()).isTrue();
        assertThat(new FedBuff(1, 1.0).mergesPartials())
                .as("with a buffer of one every partial would cross it")
                .isFalse();
        assertThat(new FedAsync(0.5).mergesPartials()).isFalse();
        assertThat(new FedRec().mergesPartials()).isFalse();
        assertThatThrownBy(() -> PartialSums.Factory.async(new FedAsync(0.5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fedasync")
                .hasMessageContaining("cannot merge");
        assertThatThrownBy(() -> PartialSums.Factory.async(new FedRec()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot merge");
    }

    private static String idHomedAt(int gateway, int gateways) {
        for (int i = 0; ; i++) {
            String id = "learner-" + i;
            if (PartialSums.homeGateway(id, gateways) == gateway) {
                return id;
            }
        }
    }

    /** One asynchronous update of {@code task}, trained on {@code base}: its shards, one batch. */
    static List<GatewayEvent> asyncUpdate(
            String learner, String task, long base, float[]... shards) {
        List<GatewayEvent> batch = new ArrayList<>();
        for (int s = 0; s < shards.length; s++) {
            batch.add(
                    GatewayEvent.updateShard(
                            0,
                            learner,
                            1,
                            s,
                            shards.length,
                            1.0,
                            task,
                            base,
                            Payload.dense(shards[s])));
        }
        return batch;
    }

    static GatewayEvent opened(long round, int shard) {
        return GatewayEvent.roundOpened(0, round, shard, 2, 4, 4, Long.MAX_VALUE - 1);
    }

    /** One update: its shards, as the gateway queues them (one batch). */
    static List<GatewayEvent> update(String learner, long round, double weight, float[]... shards) {
        List<GatewayEvent> batch = new ArrayList<>();
        for (int s = 0; s < shards.length; s++) {
            batch.add(
                    GatewayEvent.updateShard(
                            0,
                            learner,
                            round,
                            s,
                            shards.length,
                            weight,
                            "t",
                            0,
                            Payload.dense(shards[s])));
        }
        return batch;
    }
}
