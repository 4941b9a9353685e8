package org.metisfl.flink.aggregation;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.GlobalShard;
import org.metisfl.flink.state.FlushingKeyedProcessOperator;

/**
 * A participant dropped from a round: every gateway sends one PARTICIPANT_DROPPED per shard after
 * the last update of that learner it accepted, and refuses its updates afterwards. Whatever order
 * the gateways' channels interleave in at a shard, the shard must close once, on the same
 * contributor set: that is what makes every shard of the round agree (invariant 2).
 */
class ShardAggregatorDropTest {
    private static final ShardKeys KEYS = new ShardKeys(1);

    @Test
    void everyInterleavingOfTwoGatewaysClosesOnTheSameContributorsIncludingALateDroppedUpdate()
            throws Exception {
        // Gateway 1 accepted b's update before it learned of b's drop; gateway 0 never saw b.
        List<GatewayEvent> g0 = List.of(opened(3, 0), update("a", 1f, 1), dropped("b", 0));
        List<GatewayEvent> g1 = List.of(update("c", 4f, 3), update("b", 2f, 2), dropped("b", 1));
        for (List<GatewayEvent> order : interleavings(g0, g1)) {
            List<GlobalShard> out = run(order);
            assertThat(out).as("closes once: %s", order).hasSize(1);
            GlobalShard g = out.get(0);
            assertThat(g.aborted).isFalse();
            assertThat(g.contributors).as("%s", order).containsExactly("a", "b", "c");
            // (1 x 1 + 2 x 2 + 4 x 3) / 6
            assertThat(g.values.values()[0]).isEqualTo(17f / 6f);
        }
    }

    @Test
    void aDroppedParticipantThatSentNothingIsNotWaitedFor() throws Exception {
        List<GatewayEvent> g0 = List.of(opened(3, 0), update("a", 1f, 1), dropped("b", 0));
        List<GatewayEvent> g1 = List.of(update("c", 4f, 3), dropped("b", 1));
        for (List<GatewayEvent> order : interleavings(g0, g1)) {
            List<GlobalShard> out = run(order);
            assertThat(out).as("closes once: %s", order).hasSize(1);
            GlobalShard g = out.get(0);
            assertThat(g.aborted).as("quorum 3 of 3 becomes all of the 2 remaining").isFalse();
            assertThat(g.contributors).containsExactly("a", "c");
            assertThat(g.values.values()[0]).isEqualTo(13f / 4f); // (1 x 1 + 4 x 3) / 4
        }
    }

    @Test
    void aDropConfirmedByOneGatewayOfTwoDoesNotCloseTheRound() throws Exception {
        List<GlobalShard> out =
                run(List.of(opened(2, 0), update("a", 1f, 1), dropped("b", 0), dropped("b", 0)));
        assertThat(out).as("gateway 1 may still hold an update of b").isEmpty();
    }

    @Test
    void aRoundWhoseParticipantsAreAllDroppedIsAbortedAtOnce() throws Exception {
        List<GlobalShard> out =
                run(
                        List.of(
                                opened(2, 0),
                                dropped("a", 0),
                                dropped("a", 1),
                                dropped("b", 1),
                                dropped("b", 0)));
        assertThat(out).hasSize(1);
        assertThat(out.get(0).aborted).isTrue();
        assertThat(out.get(0).contributors).isEmpty();
    }

    private static List<GlobalShard> run(List<GatewayEvent> events) throws Exception {
        try (var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new FlushingKeyedProcessOperator<>(
                                new ShardAggregator(FederationConfig.of(Map.of()))),
                        (GatewayEvent e) -> KEYS.keyOf(e.shard),
                        Types.INT)) {
            h.setStateBackend(new HashMapStateBackend());
            h.open();
            long t = 1;
            for (GatewayEvent e : events) {
                h.processElement(e, t++);
            }
            List<GlobalShard> out = new ArrayList<>();
            for (Object o : h.getOutput()) {
                if (o instanceof StreamRecord<?> r) {
                    out.add((GlobalShard) r.getValue());
                }
            }
            return out;
        }
    }

    /** Every merge of two sequences that keeps the order within each. */
    private static List<List<GatewayEvent>> interleavings(
            List<GatewayEvent> a, List<GatewayEvent> b) {
        List<List<GatewayEvent>> out = new ArrayList<>();
        if (a.isEmpty() || b.isEmpty()) {
            List<GatewayEvent> rest = new ArrayList<>(a);
            rest.addAll(b);
            out.add(rest);
            return out;
        }
        for (List<GatewayEvent> tail : interleavings(a.subList(1, a.size()), b)) {
            List<GatewayEvent> l = new ArrayList<>(List.of(a.get(0)));
            l.addAll(tail);
            out.add(l);
        }
        for (List<GatewayEvent> tail : interleavings(a, b.subList(1, b.size()))) {
            List<GatewayEvent> l = new ArrayList<>(List.of(b.get(0)));
            l.addAll(tail);
            out.add(l);
        }
        return out;
    }

    private static GatewayEvent opened(int participants, int gateway) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.ROUND_OPENED);
        e.gateway = gateway;
        e.round = 1;
        e.numShards = 1;
        e.participantCount = participants;
        e.quorum = participants;
        e.deadline = Long.MAX_VALUE - 1;
        return e;
    }

    private static GatewayEvent dropped(String learner, int gateway) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.PARTICIPANT_DROPPED);
        e.learnerId = learner;
        e.gateway = gateway;
        e.gateways = 2;
        e.round = 1;
        e.numShards = 1;
        return e;
    }

    private static GatewayEvent update(String learner, float value, double weight) {
        GatewayEvent e = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        e.learnerId = learner;
        e.round = 1;
        e.numShards = 1;
        e.weight = weight;
        e.values = org.metisfl.flink.model.Payload.dense(new float[] {value, value});
        return e;
    }
}
