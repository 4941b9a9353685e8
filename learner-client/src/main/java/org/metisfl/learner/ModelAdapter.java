package org.metisfl.learner;

import java.util.List;
import org.metisfl.learner.task.EvaluateTask;
import org.metisfl.learner.task.EvaluationResult;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.learner.task.TrainResult;
import org.metisfl.learner.task.TrainTask;

/**
 * The extension point between the federation and a machine-learning model: what a learner must do
 * with its model and its private data. The library calls these methods from one thread, one task at
 * a time.
 *
 * <p>{@code DeepLearning4jAdapter} implements it for DL4J networks; implement it directly for any
 * other model.
 */
public interface ModelAdapter {

    /** The model's current weights, in a fixed order. The returned arrays must be copies. */
    List<NamedTensor> getWeights();

    /** Replaces the model's weights; names, order and shapes are those of {@link #getWeights()}. */
    void setWeights(List<NamedTensor> weights);

    /** Trains the model on the local training data, starting from its current weights. */
    TrainResult train(TrainTask task);

    /** Evaluates the model's current weights on the local test data. */
    EvaluationResult evaluate(EvaluateTask task);

    /** Number of local training examples (the default FedAvg weight). */
    long numTrainingExamples();

    /** Number of local test examples (the weight of this learner's evaluation metrics). */
    long numTestExamples();
}
