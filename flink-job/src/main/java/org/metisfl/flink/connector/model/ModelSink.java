package org.metisfl.flink.connector.model;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.metisfl.flink.model.Directive;

/**
 * Closes the federation's loop: delivers each new global model and round plan to every learner
 * gateway over gRPC. Gateways announce themselves through the job (records broadcast to every sink
 * subtask), so this works whichever task managers the gateways run on.
 */
public final class ModelSink implements Sink<Directive> {
    private static final long serialVersionUID = 1L;

    private final int maxMessageBytes;

    public ModelSink(int maxMessageBytes) {
        this.maxMessageBytes = maxMessageBytes;
    }

    @Override
    public SinkWriter<Directive> createWriter(WriterInitContext context) {
        return new ModelSinkWriter(maxMessageBytes);
    }
}
