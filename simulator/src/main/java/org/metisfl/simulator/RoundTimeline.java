package org.metisfl.simulator;

/**
 * What the simulated learners saw of one round, as seen from the learner side of the wire. Times
 * are microseconds since the epoch (0 when the event never happened); durations are microseconds.
 *
 * @param round the round of the training tasks
 * @param trainTasks learners that received the round's training task
 * @param firstTaskAtUs when the first learner received the task
 * @param lastTaskAtUs when the last learner received it
 * @param downloads completed model downloads (GetModel) for this round
 * @param maxDownloadUs longest model download
 * @param uploadsStarted updates whose upload began
 * @param firstUploadStartUs when the first upload began
 * @param lastUploadSentUs when the last upload had all its bytes handed to gRPC and was half-closed
 * @param acks updates the gateway acknowledged (ACCEPTED or DUPLICATE)
 * @param firstAckAtUs when the first acknowledgement arrived
 * @param lastAckAtUs when the last acknowledgement arrived
 * @param bytesUploaded update bytes acknowledged
 * @param bytesDownloaded model bytes downloaded
 * @param maxTransferUs the largest per-learner sum of download time and upload time (upload start
 *     to last byte sent): the round's transfer work on its critical path
 * @param maxTaskToAckUs the largest per-learner time from task received to acknowledgement
 * @param evaluations evaluation reports sent for the model this round produced
 * @param failures failed calls (download, upload, evaluation) in this round
 */
public record RoundTimeline(
        long round,
        int trainTasks,
        long firstTaskAtUs,
        long lastTaskAtUs,
        int downloads,
        long maxDownloadUs,
        int uploadsStarted,
        long firstUploadStartUs,
        long lastUploadSentUs,
        int acks,
        long firstAckAtUs,
        long lastAckAtUs,
        long bytesUploaded,
        long bytesDownloaded,
        long maxTransferUs,
        long maxTaskToAckUs,
        int evaluations,
        int failures) {

    /** Update bytes acknowledged per second from the first upload start to the last ack. */
    public double ingestBytesPerSecond() {
        long span = lastAckAtUs - firstUploadStartUs;
        return span <= 0 ? 0 : bytesUploaded * 1e6 / span;
    }
}
