package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Threshold mode's part of the coordinator's state (a Flink POJO inside {@link
 * FederationProgress}): the committee of the current key epoch, its public key shares and joint key
 * (no secret: the members keep their shares), the sealed dealings (t &lt; N; opaque to the job),
 * and the decryption in progress with the partial decryptions received so far.
 */
public class ThresholdProgress {
    /** The key epoch (1, 2, ...); 0 = no committee drawn yet. */
    public long epoch;

    /** The public seed of the common polynomial (32 bytes). */
    public byte[] seed;

    /** The committee's learner ids, as drawn. */
    public List<String> members = new ArrayList<>();

    /**
     * Each member's KeyShareSubmission (public share, transport key), as the gateway checked it.
     */
    public Map<String, byte[]> shares = new HashMap<>();

    /** The serialized joint public key and its id (hex), once every share is in. */
    public byte[] jointKey;

    public String keyId;

    /** t &lt; N: each member's DealingsSubmission (sealed to the recipients). */
    public Map<String, byte[]> dealings = new HashMap<>();

    /** True once training may run: the joint key exists (and, t &lt; N, every dealing is in). */
    public boolean ready;

    /** The round whose aggregate is being decrypted; 0 = none. */
    public long decryptRound;

    /** The decryption attempt (1, 2, ...) and its answering set (learner ids). */
    public int attempt;

    public List<String> answering = new ArrayList<>();

    /** When the attempt's members must have answered (processing time). */
    public long attemptDeadline;

    /** Members that did not answer an earlier attempt of this round (left out of later sets). */
    public List<String> silent = new ArrayList<>();

    /** The current attempt's partial decryptions, per member (packed partial shards). */
    public Map<String, byte[]> partials = new HashMap<>();

    public ThresholdProgress() {}
}
