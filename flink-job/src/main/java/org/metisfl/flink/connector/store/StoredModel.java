package org.metisfl.flink.connector.store;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * The metadata of one stored global model version ({@code v<version>.json} next to its {@code
 * v<version>.model}, or its {@code v<version>.ckks} when {@link #encryption} is set); after its
 * round's result arrived, also the round's contributors, metrics and timing ({@code
 * v<version>.result.json}, see {@link ModelStore#list}).
 */
public class StoredModel {
    public String federation;
    public long version;

    /** The version this one was computed from (version - 1); -1 for the initial model. */
    public long parentVersion = -1;

    /** When the job published it (processing time of the model store writer, ms since epoch). */
    public long publishedAtMs;

    public long values;
    public List<TensorSpecInfo> tensors = new ArrayList<>();

    /** The round planned with this model, and its participants (0 and empty: none). */
    public long nextRound;

    public List<String> nextRoundParticipants = new ArrayList<>();
    public List<String> evaluators = new ArrayList<>();
    public boolean finished;
    public String finishReason;

    /**
     * Null for a plaintext version; for a CKKS federation's version, how its {@code .ckks}
     * ciphertexts are encrypted (they are stored instead of a {@code .model} file).
     */
    public StoredEncryption encryption;

    /** From the round's result, once written (null before): who contributed, and how it went. */
    public List<String> contributors;

    public Integer participants;
    public Long roundStartedAtMs;
    public Long roundClosedAtMs;
    public Long roundTimeMs;
    public Map<String, Double> trainMetrics;
    public Map<String, Double> evalMetrics;

    public StoredModel() {}
}
