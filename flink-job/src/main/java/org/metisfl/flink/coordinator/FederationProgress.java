package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.model.MemberIndex;
import org.metisfl.flink.model.TensorSpecInfo;

/** The coordinator's view of the federation (a Flink POJO in keyed state). */
public class FederationProgress {
    public Phase phase;
    public long modelVersion = -1;
    public List<TensorSpecInfo> tensors = new ArrayList<>();
    public int numShards;
    public int activeLearners;

    /** The round running, or the last one run. */
    public long round;

    public List<String> participants = new ArrayList<>();
    public int quorum;
    public long deadline;
    public long roundStartedAt;
    public boolean[] shardReceived = new boolean[0];
    public int shardsReceived;
    public boolean roundAborted;

    /**
     * The model path: the running round's shards went from the aggregators straight to the gateways
     * (the coordinator got metadata only).
     */
    public boolean roundShardsDirect;

    /**
     * The model path: the values of model {@link #modelVersion} are held by the aggregators and
     * reach the gateways from them; the coordinator publishes the version, not its values.
     */
    public boolean modelAtShards;

    public List<String> contributors = new ArrayList<>();

    /** Participants of the running round dropped from it (gone past the grace period). */
    public List<String> dropped = new ArrayList<>();

    /**
     * Participants of the running round whose task stream is gone, and when they are dropped unless
     * they come back (processing time).
     */
    public Map<String, Long> dropAt = new HashMap<>();

    /**
     * Processing time the coordinator last (re)started at, and when the learners that have not
     * reconnected since count as gone (0 = no check pending).
     */
    public long restartedAt;

    public long reconnectCheckAt;

    /** Learners asked to evaluate the current model version. */
    public List<String> evaluators = new ArrayList<>();

    public String finishReason;

    /** Processing time the first round started; the wall-clock limit counts from it. */
    public long federationStartedAt;

    /** Semi-synchronous: local steps of each learner, and the time budget they were sized to. */
    public Map<String, Long> localSteps = new HashMap<>();

    public double semiSyncBudgetMs;

    /** Semi-synchronous: contributors of the closed round whose speed report is still due. */
    public List<String> awaitingReportsFrom = new ArrayList<>();

    /** Asynchronous: the version last sent to the gateways, when, and a pending publish timer. */
    public long publishedVersion = -1;

    public long lastPublishAt;
    public long publishTimerAt;

    /**
     * Asynchronous model path with {@code async.evaluate-interval}: published versions whose
     * metadata said they are evaluated and that are not complete here yet.
     */
    public List<Long> evaluationVersions = new ArrayList<>();

    /** Krum: the summed pairwise distances of the round's contributors, and the choice. */
    public double[] krumDistances;

    public List<String> krumContributors = new ArrayList<>();
    public List<String> krumSelection = new ArrayList<>();
    public long krumSelectionRound;

    /** O(1) membership over {@link #contributors} (rebuilt after a restore or a reset). */
    private transient MemberIndex contributorIndex;

    /** Central DP: the Rényi DP spent so far, one value per order of the accountant. */
    public double[] privacyRdp;

    /** Central DP: the clip norm of the current round (adaptive clipping moves it). */
    public double clipNorm;

    /** Active learners when the current round opened. */
    public int roundActive;

    /** Central DP: how many of the current round's contributors were within the clip norm. */
    public int unclipped;

    /**
     * The last round that closed and the learners whose updates counted in it (none if aborted).
     */
    public long countedRound;

    public List<String> counted = new ArrayList<>();

    /** Threshold mode: the committee, its key and the decryption in progress; null otherwise. */
    public ThresholdProgress threshold;

    public FederationProgress() {}

    /** Adds {@code learner} to the contributors unless it is one already; O(1). */
    void addContributor(String learner) {
        contributorIndex = MemberIndex.of(contributorIndex, contributors);
        contributorIndex.add(learner);
    }
}
