package org.metisfl.flink.connector.gateway.split;

import java.util.Map;
import java.util.Set;
import org.apache.flink.api.connector.source.SourceSplit;

/**
 * One learner gateway: its index (which fixes its port), the federation's secret, from which
 * learner tokens are derived, so that every gateway accepts every learner's token, also after a
 * restore, and its admission state: how often each enrollment token was used, and the learners that
 * left (their tokens stay revoked after a restore).
 */
public final class GatewaySplit implements SourceSplit {
    private final int index;
    private final String secret;
    private final Map<String, Integer> enrollmentUses;
    private final Set<String> revoked;

    public GatewaySplit(int index, String secret) {
        this(index, secret, Map.of(), Set.of());
    }

    public GatewaySplit(
            int index, String secret, Map<String, Integer> enrollmentUses, Set<String> revoked) {
        this.index = index;
        this.secret = secret;
        this.enrollmentUses = Map.copyOf(enrollmentUses);
        this.revoked = Set.copyOf(revoked);
    }

    /** Joins admitted so far per enrollment token id. */
    public Map<String, Integer> enrollmentUses() {
        return enrollmentUses;
    }

    /** Learners that left: their tokens are refused. */
    public Set<String> revoked() {
        return revoked;
    }

    public int index() {
        return index;
    }

    public String secret() {
        return secret;
    }

    @Override
    public String splitId() {
        return "gateway-" + index;
    }

    @Override
    public String toString() {
        return splitId();
    }
}
