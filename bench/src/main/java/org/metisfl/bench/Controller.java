package org.metisfl.bench;

/** The federation job a scenario runs against: an embedded MiniCluster process or a cluster job. */
interface Controller extends AutoCloseable {

    /** Waits until the job's learner gateway serves. */
    void awaitReady() throws Exception;

    /** The controller's heap still used after a full GC, or -1 where it cannot be measured. */
    long heapAfterGc() throws Exception;

    /** Waits for the job's end (or stops it); returns {peak RSS, peak heap used}, -1 if unknown. */
    long[] stop() throws Exception;
}
