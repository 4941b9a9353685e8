package org.metisfl.flink.coordinator;

import org.metisfl.flink.aggregation.kernel.FedAdagrad;
import org.metisfl.flink.aggregation.kernel.FedAdam;
import org.metisfl.flink.aggregation.kernel.FedAvgM;
import org.metisfl.flink.aggregation.kernel.FedAvgOptimizer;
import org.metisfl.flink.aggregation.kernel.FedYogi;
import org.metisfl.flink.aggregation.kernel.ServerOptimizer;
import org.metisfl.flink.config.CoordinatorOptions;

/** Builds the configured server optimizer. */
public final class ServerOptimizers {

    private ServerOptimizers() {}

    public static ServerOptimizer of(CoordinatorOptions c) {
        return switch (c.optimizer()) {
            case NONE -> FedAvgOptimizer.of();
            case FEDAVGM -> FedAvgM.of(c.optimizerLearningRate(), c.optimizerMomentum());
            case FEDADAGRAD -> FedAdagrad.of(c.optimizerLearningRate(), c.optimizerTau());
            case FEDADAM ->
                    FedAdam.of(
                            c.optimizerLearningRate(),
                            c.optimizerBeta1(),
                            c.optimizerBeta2(),
                            c.optimizerTau());
            case FEDYOGI ->
                    FedYogi.of(
                            c.optimizerLearningRate(),
                            c.optimizerBeta1(),
                            c.optimizerBeta2(),
                            c.optimizerTau());
        };
    }
}
