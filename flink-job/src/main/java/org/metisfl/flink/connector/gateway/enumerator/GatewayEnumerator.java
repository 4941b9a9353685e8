package org.metisfl.flink.connector.gateway.enumerator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
 *
 * <p>It also keeps each enrollment token's joins within its limit federation-wide: a gateway asks
 * it for each use of a token with a limit ({@link EnrollmentUseRequest}), so a token for N joins
 * admits N learners in all, whichever gateways they join through. The uses live in the gateways'
 * checkpointed state, each in the same checkpoint as its join; the enumerator counts them from what
 * each gateway reports when it (re)starts ({@link EnrollmentUsesReport}) plus what it granted that
 * gateway since. A gateway restored from a checkpoint reports again, which gives back the uses
 * granted to it after that checkpoint (their joins were never answered). Requests wait until every
 * gateway has reported.
 */
public final class GatewayEnumerator
        implements SplitEnumerator<GatewaySplit, GatewayEnumeratorState> {
    private final SplitEnumeratorContext<GatewaySplit> context;
    private final String secret;
    private final TreeSet<Integer> unassigned;
    private final Set<String> revoked;

    /**
     * Per gateway (source subtask i runs gateway i), the joins per enrollment token it holds: as it
     * reported at its last start, plus the uses granted to it since.
     */
    private final Map<Integer, Map<String, Integer>> uses = new HashMap<>();

    /** Requests that arrived before every gateway reported, with their gateway. */
    private final List<Map.Entry<Integer, EnrollmentUseRequest>> waiting = new ArrayList<>();

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
        if (event instanceof EnrollmentUsesReport report) {
            usesReported(subtaskId, report);
        } else if (event instanceof EnrollmentUseRequest request) {
            if (allReported()) {
                answer(subtaskId, request);
            } else {
                waiting.add(Map.entry(subtaskId, request));
            }
        } else if (event instanceof RevocationEvent r) {
            revoked(subtaskId, r);
        }
    }

    private void usesReported(int subtaskId, EnrollmentUsesReport report) {
        uses.put(subtaskId, new HashMap<>(report.uses()));
        if (allReported()) {
            for (Map.Entry<Integer, EnrollmentUseRequest> w : waiting) {
                answer(w.getKey(), w.getValue());
            }
            waiting.clear();
        }
    }

    private void revoked(int subtaskId, RevocationEvent r) {
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

    private boolean allReported() {
        return uses.size() >= context.currentParallelism();
    }

    /** The joins of {@code tokenId} federation-wide. */
    private int used(String tokenId) {
        int n = 0;
        for (Map<String, Integer> g : uses.values()) {
            n += g.getOrDefault(tokenId, 0);
        }
        return n;
    }

    private void answer(int subtaskId, EnrollmentUseRequest request) {
        boolean granted = request.maxUses() <= 0 || used(request.tokenId()) < request.maxUses();
        if (granted) {
            uses.computeIfAbsent(subtaskId, g -> new HashMap<>())
                    .merge(request.tokenId(), 1, Integer::sum);
        }
        // A gateway that restarted meanwhile reports again after this request (its events come
        // in order), which gives the use back; its new reader drops the answer to the old
        // request. Were the old request handled after the new report, the use would stay
        // counted until the gateway's next start: it can cost a use, never admit one too many.
        if (context.registeredReaders().containsKey(subtaskId)) {
            context.sendEventToSourceReader(
                    subtaskId, new EnrollmentUseAnswer(request.request(), granted));
        }
    }

    @Override
    public GatewayEnumeratorState snapshotState(long checkpointId) {
        return new GatewayEnumeratorState(secret, List.copyOf(unassigned), List.copyOf(revoked));
    }

    @Override
    public void close() {}
}
