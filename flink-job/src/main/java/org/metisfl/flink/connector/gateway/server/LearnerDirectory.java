package org.metisfl.flink.connector.gateway.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * What a gateway knows of the learners it admitted, for the operator's listing ({@code metisfl
 * learners list}): name, join time and token expiry of each learner that joined here (or renewed
 * its token here) since the gateway started, bounded like the declared examples (the oldest
 * forgotten first); and the revocations this gateway made (a {@code Leave}, or the operator's
 * command) that the rest of the federation has not been told yet. Thread-safe.
 */
public final class LearnerDirectory {
    /** One admitted learner. {@code joinedAtMs} 0: it joined before this gateway started. */
    public record Entry(String learnerId, String name, long joinedAtMs, long expiresAtMs) {}

    private final Map<String, Entry> entries;
    private final Set<String> left = ConcurrentHashMap.newKeySet();
    private final ConcurrentLinkedQueue<String> toPublish = new ConcurrentLinkedQueue<>();

    LearnerDirectory(int capacity) {
        this.entries =
                new LinkedHashMap<>(16, 0.75f, false) {
                    @Override
                    protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                        return size() > capacity;
                    }
                };
    }

    /** A learner joined here. */
    synchronized void joined(String learnerId, String name, long nowMs, long expiresAtMs) {
        entries.put(learnerId, new Entry(learnerId, name, nowMs, expiresAtMs));
    }

    /** A learner renewed its token here (one that joined elsewhere or earlier is added). */
    synchronized void renewed(String learnerId, long expiresAtMs) {
        Entry e = entries.get(learnerId);
        entries.put(
                learnerId,
                e == null
                        ? new Entry(learnerId, "", 0, expiresAtMs)
                        : new Entry(learnerId, e.name(), e.joinedAtMs(), expiresAtMs));
    }

    /** The learner left by itself (its listing says so rather than "revoked"). */
    void left(String learnerId) {
        left.add(learnerId);
    }

    boolean hasLeft(String learnerId) {
        return left.contains(learnerId);
    }

    /** The learners known here, oldest join first. */
    synchronized List<Entry> entries() {
        return new ArrayList<>(entries.values());
    }

    /** A revocation made here, for the other gateways. */
    void publish(String learnerId) {
        toPublish.add(learnerId);
    }

    /** The revocations to tell the rest of the federation, taken (empty if none). */
    public List<String> takeToPublish() {
        List<String> out = new ArrayList<>();
        for (String id = toPublish.poll(); id != null; id = toPublish.poll()) {
            out.add(id);
        }
        return out;
    }
}
