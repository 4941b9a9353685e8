package org.metisfl.flink.coordinator;

import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.RoundResult;

/**
 * Where the coordinator's plain classes send what they decide: directives for the model sink, round
 * results, and processing-time timers. {@link RoundCoordinator} binds it to Flink's collector, side
 * output and timer service; tests record it.
 */
public interface CoordinatorOutput {

    /** A directive for the gateways (model shards, then the PUBLISH that names them). */
    void directive(Directive directive);

    /** A round's (or an evaluated model version's) result. */
    void result(RoundResult result);

    /** Asks for {@code Coordinator#onTimer} at processing time {@code timeMs}. */
    void timerAt(long timeMs);
}
