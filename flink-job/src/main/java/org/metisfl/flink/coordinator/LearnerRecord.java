package org.metisfl.flink.coordinator;

/** A learner registered with the federation (a Flink POJO in keyed state). */
public class LearnerRecord {
    public String name;
    public long numExamples;
    public boolean active;
    public long joinedAt;

    /** Gateway timestamp of the latest connect or disconnect seen (older news is ignored). */
    public long connectivityStamp;

    /**
     * Gateway where the latest task stream opening seen happened (-1 = none known): a closing
     * reported by another gateway is of a stream the learner has left.
     */
    public int streamGateway = -1;

    /** Processing time of the latest task stream opening seen (0 = none since it joined). */
    public long connectedAtMs;

    /** Latest reported training speed (semi-synchronous protocol); 0 = not measured yet. */
    public double msPerBatch;

    public double msPerEpoch;

    /** Threshold mode: it offered to sit on the decryption committee (JoinRequest). */
    public boolean committeeEligible;

    public LearnerRecord() {}
}
