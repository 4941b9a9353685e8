package org.metisfl.flink.connector.gateway.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.metisfl.flink.aggregation.PartialSums;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.config.GatewayOptions;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.proto.v1.DirectiveHeader;
import org.metisfl.proto.v1.ModelShardRef;
import org.metisfl.proto.v1.RoundPlan;
import org.metisfl.proto.v1.TensorSpec;

/**
 * How a gateway applies the model sink's directives: what it tells the job (one ROUND_OPENED per
 * shard, again with a restart's later deadline; Krum's selection per shard; the first model's
 * shards for the asynchronous aggregators; task streams opening) and what its parts then hold.
 */
class GatewayStateTest {
    private final AtomicLong clock = new AtomicLong(1_000);
    private final StampedEventQueue queue = new StampedEventQueue(clock::get);

    private GatewayState state(String... keyValues) {
        Map<String, String> settings = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            settings.put(keyValues[i], keyValues[i + 1]);
        }
        return new GatewayState(
                GatewayOptions.from(FederationConfig.of(settings)),
                3,
                new TokenAuthority(TokenAuthority.newSecret()),
                queue);
    }

    private List<GatewayEvent> drained() {
        List<GatewayEvent> out = new ArrayList<>();
        for (StampedEventQueue.Batch b = queue.poll(); b != null; b = queue.poll()) {
            out.addAll(b.events());
        }
        return out;
    }

    private static DirectiveHeader.Builder header(long version, int numShards) {
        return DirectiveHeader.newBuilder()
                .setModelVersion(version)
                .setNumShards(numShards)
                .addTensors(TensorSpec.newBuilder().setName("w").addShape(4));
    }

    private static RoundPlan plan(long round, long deadline, String... participants) {
        return RoundPlan.newBuilder()
                .setRound(round)
                .setQuorum(1)
                .setDeadlineUnixMs(deadline)
                .addAllParticipants(List.of(participants))
                .build();
    }

    private static List<ByteString> model(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return List.of(ByteString.copyFrom(b.array()));
    }

    @Test
    void aNewRoundIsAnnouncedToEveryShardAndItsParticipantsGetTheirTask() {
        GatewayState s = state();
        FakeTaskStream a = new FakeTaskStream();
        s.connect("a", a);
        assertThat(drained()).extracting(e -> e.kind).containsExactly(GatewayEvent.Kind.CONNECTED);
        assertThat(s.directiveSeen()).isFalse();

        s.apply(header(0, 2).setPlan(plan(1, 50_000, "a", "b")).build(), model(1, 2, 3, 4));
        List<GatewayEvent> opened = drained();
        assertThat(opened)
                .extracting(e -> e.kind + "/" + e.shard + "/" + e.participantCount)
                .containsExactly("ROUND_OPENED/0/2", "ROUND_OPENED/1/2");
        assertThat(opened).allMatch(e -> e.gateway == 3 && e.round == 1 && e.deadline == 50_000);
        assertThat(s.directiveSeen()).isTrue();
        assertThat(s.model().version()).isZero();
        assertThat(s.plan().participants()).containsExactlyInAnyOrder("a", "b");
        assertThat(a.taskIds()).containsExactly("r1/train");
        assertThat(a.tasks.get(0).getTrain().getDeadlineUnixMs()).isEqualTo(50_000);

        s.apply(header(0, 2).setPlan(plan(1, 50_000, "a", "b")).build(), null);
        assertThat(drained()).as("the same plan again: nothing new").isEmpty();
        assertThat(a.tasks).hasSize(1);
    }

    @Test
    void aRestartsLaterDeadlineReachesTheShardsAndTheTasks() {
        GatewayState s = state();
        s.apply(header(0, 2).setPlan(plan(4, 50_000, "a")).build(), model(1, 2, 3, 4));
        drained();
        s.apply(header(0, 2).setPlan(plan(4, 80_000, "a")).build(), null);
        assertThat(drained())
                .extracting(e -> e.kind + "/" + e.round + "/" + e.deadline)
                .containsExactly("ROUND_OPENED/4/80000", "ROUND_OPENED/4/80000");
        assertThat(s.plan().deadline()).isEqualTo(80_000);
        assertThat(s.plan().train().getDeadlineUnixMs()).isEqualTo(80_000);
        s.apply(header(0, 2).setPlan(plan(4, 60_000, "a")).build(), null);
        assertThat(drained()).as("an earlier deadline is stale news").isEmpty();
    }

    @Test
    void aDroppedParticipantIsToldToEveryShardOnceAndItsUpdateIsRefused() {
        GatewayState s = state();
        s.apply(header(0, 2).setPlan(plan(2, 50_000, "a", "b")).build(), model(1, 2, 3, 4));
        drained();
        DirectiveHeader drop =
                header(0, 2).setPlan(plan(2, 50_000, "a", "b").toBuilder().addDropped("b")).build();
        s.apply(drop, null);
        assertThat(drained())
                .extracting(e -> e.kind + "/" + e.learnerId + "/" + e.shard)
                .containsExactly("PARTICIPANT_DROPPED/b/0", "PARTICIPANT_DROPPED/b/1");
        s.apply(drop, null);
        assertThat(drained()).isEmpty();
        assertThat(s.offerRoundUpdate("b", 2, List.of(), null, null)).contains("dropped");
        assertThat(s.offerRoundUpdate("a", 1, List.of(), null, null)).contains("closed");
        GatewayEvent update = GatewayEvent.of(GatewayEvent.Kind.UPDATE_SHARD);
        assertThat(s.offerRoundUpdate("a", 2, List.of(update), null, null)).isNull();
        assertThat(drained()).containsExactly(update);
    }

    @Test
    void krumsSelectionGoesToEveryShardOncePerRound() {
        GatewayState s = state();
        DirectiveHeader choice =
                header(0, 3).setSelectionRound(2).addAllSelection(List.of("b", "c")).build();
        s.apply(choice, null);
        List<GatewayEvent> selected = drained();
        assertThat(selected)
                .extracting(e -> e.kind + "/" + e.shard + "/" + e.round)
                .containsExactly("SELECTION/0/2", "SELECTION/1/2", "SELECTION/2/2");
        assertThat(selected.get(0).participants).containsExactly("b", "c");
        s.apply(choice, null);
        assertThat(drained()).isEmpty();
    }

    @Test
    void theAsynchronousAggregatorsGetTheFirstModelsShardsThenOnlyWhichVersionIsServed() {
        GatewayState s = state("protocol.type", "asynchronous");
        s.apply(header(0, 1).setShardSize(1024).build(), model(1, 2, 3, 4));
        List<GatewayEvent> shards = drained();
        assertThat(shards).extracting(e -> e.kind).containsExactly(GatewayEvent.Kind.MODEL_SHARD);
        assertThat(shards.get(0).values.values()).containsExactly(1f, 2f, 3f, 4f);
        s.apply(header(1, 1).setShardSize(1024).build(), model(5, 6, 7, 8));
        List<GatewayEvent> served = drained();
        assertThat(served)
                .extracting(e -> e.kind + "/" + e.shard + "/" + e.round + "/" + e.values)
                .containsExactly("MODEL_SERVED/0/1/null");
        assertThat(s.model().version()).isEqualTo(1);
        s.apply(header(0, 1).setShardSize(1024).build(), model(1, 2, 3, 4));
        assertThat(s.model().version()).as("an older model is not served").isEqualTo(1);
        assertThat(drained()).isEmpty();
    }

    @Test
    void aRunNumbersTheAsynchronousTasksItHandsOutInOrderAndOwnsOnlyThose() {
        GatewayState s = state("protocol.type", "asynchronous");
        s.apply(header(0, 1).setShardSize(1024).build(), model(1, 2, 3, 4));
        FakeTaskStream a = new FakeTaskStream();
        FakeTaskStream b = new FakeTaskStream();
        s.connect("a", a);
        s.connect("b", b);
        s.onAsyncUpdateAccepted("a", "a@" + a.taskIds().get(0), new CompletableFuture<>());
        List<String> ids = new ArrayList<>(a.taskIds());
        ids.add(1, b.taskIds().get(0));
        assertThat(ids).hasSize(3);
        assertThat(ids).extracting(PartialSums::taskSequence).containsExactly(1L, 2L, 3L);
        assertThat(ids).allMatch(s::handedOutThisRun);
        String prefix = ids.get(0).substring(0, ids.get(0).length() - 1);
        assertThat(s.handedOutThisRun(prefix + "4")).as("not handed out yet").isFalse();
        assertThat(s.handedOutThisRun(prefix + "x")).isFalse();
        assertThat(s.handedOutThisRun(prefix + "01")).isFalse();
        GatewayState another = state("protocol.type", "asynchronous");
        assertThat(another.handedOutThisRun(ids.get(0))).as("another run's task").isFalse();
    }

    @Test
    void afterTheEndTheShardsOfLaterVersionsAreNotHeld() {
        GatewayState s = state("protocol.type", "asynchronous");
        s.apply(header(0, 1).setShardSize(1024).build(), model(1, 2, 3, 4));
        s.apply(shard(3), model(5, 6, 7, 8)); // published before the end reached the gateway
        assertThat(s.heldModelVersions()).isEqualTo(1);
        s.apply(header(-1, 1).setFinished(true).setFinishReason("done").build(), null);
        assertThat(s.heldModelVersions()).isZero();
        s.apply(shard(4), model(9, 10, 11, 12)); // made from updates in flight, after the end
        assertThat(s.heldModelVersions()).isZero();
        assertThat(s.model().version()).isZero();
    }

    private static DirectiveHeader shard(long version) {
        return header(version, 1)
                .setShardSize(1024)
                .setModelShard(ModelShardRef.newBuilder().setIndex(0))
                .build();
    }

    @Test
    void theEndIsToldOnceAndSilencesConnectivityNews() {
        GatewayState s = state();
        FakeTaskStream a = new FakeTaskStream();
        s.connect("a", a);
        drained();
        s.apply(header(-1, 1).setFinished(true).setFinishReason("done").build(), null);
        assertThat(s.isFinished()).isTrue();
        assertThat(a.taskIds()).containsExactly("shutdown");
        FakeTaskStream b = new FakeTaskStream();
        s.connect("b", b);
        assertThat(b.taskIds()).containsExactly("shutdown");
        assertThat(drained()).isEmpty();
    }
}
