package org.metisfl.flink.connector.gateway.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.metisfl.proto.v1.Task;

/** A learner's task stream as the gateway sees it: records what it was sent. */
final class FakeTaskStream extends ServerCallStreamObserver<Task> {
    final List<Task> tasks = new ArrayList<>();
    Runnable onCancel;
    boolean completed;
    boolean broken;

    /** The learner went away: gRPC runs the cancel handler. */
    void cancel() {
        onCancel.run();
    }

    List<String> taskIds() {
        return tasks.stream().map(Task::getTaskId).toList();
    }

    @Override
    public void onNext(Task value) {
        if (broken) {
            throw new IllegalStateException("call closed");
        }
        tasks.add(value);
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {
        completed = true;
    }

    @Override
    public boolean isCancelled() {
        return false;
    }

    @Override
    public void setOnCancelHandler(Runnable handler) {
        onCancel = handler;
    }

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
        return true;
    }

    @Override
    public void setOnReadyHandler(Runnable handler) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
}
