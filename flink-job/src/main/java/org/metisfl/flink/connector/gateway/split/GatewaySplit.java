package org.metisfl.flink.connector.gateway.split;

import org.apache.flink.api.connector.source.SourceSplit;

/**
 * One learner gateway: its index (which fixes its port) and the federation's secret, from which
 * learner tokens are derived, so that every gateway accepts every learner's token, also after a
 * restore.
 */
public final class GatewaySplit implements SourceSplit {
    private final int index;
    private final String secret;

    public GatewaySplit(int index, String secret) {
        this.index = index;
        this.secret = secret;
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
