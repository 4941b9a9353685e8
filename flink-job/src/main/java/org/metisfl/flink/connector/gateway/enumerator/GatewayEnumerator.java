package org.metisfl.flink.connector.gateway.enumerator;

import java.util.List;
import java.util.TreeSet;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.metisfl.flink.connector.gateway.split.GatewaySplit;

/** Hands gateway i to source subtask i, with the federation's secret. */
public final class GatewayEnumerator
        implements SplitEnumerator<GatewaySplit, GatewayEnumeratorState> {
    private final SplitEnumeratorContext<GatewaySplit> context;
    private final String secret;
    private final TreeSet<Integer> unassigned;

    public GatewayEnumerator(
            SplitEnumeratorContext<GatewaySplit> context, GatewayEnumeratorState state) {
        this.context = context;
        this.secret = state.secret();
        this.unassigned = new TreeSet<>(state.unassigned());
    }

    @Override
    public void start() {}

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        if (unassigned.remove(subtaskId)) {
            context.assignSplit(new GatewaySplit(subtaskId, secret), subtaskId);
        }
    }

    @Override
    public void addSplitsBack(List<GatewaySplit> splits, int subtaskId) {
        for (GatewaySplit s : splits) {
            unassigned.add(s.index());
        }
    }

    @Override
    public void addReader(int subtaskId) {}

    @Override
    public GatewayEnumeratorState snapshotState(long checkpointId) {
        return new GatewayEnumeratorState(secret, List.copyOf(unassigned));
    }

    @Override
    public void close() {}
}
