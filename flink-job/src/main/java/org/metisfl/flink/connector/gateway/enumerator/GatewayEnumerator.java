package org.metisfl.flink.connector.gateway.enumerator;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;

/**
 * Hands gateway i to source subtask i, with the federation's secret; keeps the federation's revoked
 * learners (told by the gateways that revoked them: a Leave or the operator's command) in its
 * checkpoint and sends them to every gateway, so a learner revoked at one gateway is refused at all
 * of them, also after a failover or a savepoint and resume.
 */
public final class GatewayEnumerator
        implements SplitEnumerator<GatewaySplit, GatewayEnumeratorState> {
    private final SplitEnumeratorContext<GatewaySplit> context;
    private final String secret;
    private final TreeSet<Integer> unassigned;
    private final Set<String> revoked;

    public GatewayEnumerator(
            SplitEnumeratorContext<GatewaySplit> context, GatewayEnumeratorState state) {
        this.context = context;
        this.secret = state.secret();
        this.unassigned = new TreeSet<>(state.unassigned());
        this.revoked = new LinkedHashSet<>(state.revoked());
    }

    @Override
    public void start() {}

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        if (unassigned.remove(subtaskId)) {
            context.assignSplit(
                    new GatewaySplit(subtaskId, secret, java.util.Map.of(), revoked), subtaskId);
        }
    }

    @Override
    public void addSplitsBack(List<GatewaySplit> splits, int subtaskId) {
        for (GatewaySplit s : splits) {
            unassigned.add(s.index());
        }
    }

    @Override
    public void addReader(int subtaskId) {
        if (!revoked.isEmpty()) {
            context.sendEventToSourceReader(subtaskId, new RevocationEvent(List.copyOf(revoked)));
        }
    }

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent event) {
        if (!(event instanceof RevocationEvent r)) {
            return;
        }
        List<String> fresh = new ArrayList<>();
        for (String learner : r.learners()) {
            if (revoked.add(learner)) {
                fresh.add(learner);
            }
        }
        if (fresh.isEmpty()) {
            return;
        }
        RevocationEvent news = new RevocationEvent(fresh);
        for (int reader : context.registeredReaders().keySet()) {
            if (reader != subtaskId) {
                context.sendEventToSourceReader(reader, news);
            }
        }
    }

    @Override
    public GatewayEnumeratorState snapshotState(long checkpointId) {
        return new GatewayEnumeratorState(secret, List.copyOf(unassigned), List.copyOf(revoked));
    }

    @Override
    public void close() {}
}
