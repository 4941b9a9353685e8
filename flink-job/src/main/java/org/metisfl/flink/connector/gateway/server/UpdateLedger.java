package org.metisfl.flink.connector.gateway.server;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What this gateway accepted and has not forgotten yet: each accepted update's identity with a
 * future that completes once the update is durable in the job (its checkpoint completed and it was
 * acknowledged), so a resent copy is answered as a duplicate of the original; and the evaluations
 * received. Bounded: synchronous rounds forget what is two rounds old, asynchronous learners keep
 * only their latest update.
 */
public final class UpdateLedger {

    /** (learner, round) of accepted updates → completes when the update is durable in the job. */
    private final Map<String, CompletableFuture<Void>> accepted = new ConcurrentHashMap<>();

    /** (learner, model version) of evaluations received. */
    private final Set<String> evaluated = ConcurrentHashMap.newKeySet();

    /** Asynchronous: each learner's latest accepted update. */
    private final Map<String, String> latestAsync = new ConcurrentHashMap<>();

    /** Identity of an update: (learner, round) when synchronous, (learner, task) when not. */
    public static String updateKey(String learnerId, String roundOrTask) {
        return learnerId + "@" + roundOrTask;
    }

    /** The durability of an accepted update, or null if none was accepted under {@code key}. */
    public CompletableFuture<Void> original(String key) {
        return accepted.get(key);
    }

    public boolean contains(String key) {
        return accepted.containsKey(key);
    }

    /**
     * Records an accepted update unless one is recorded under {@code key}; returns that earlier
     * one's durability, or null if {@code durable} was recorded.
     */
    public CompletableFuture<Void> accept(String key, CompletableFuture<Void> durable) {
        return accepted.putIfAbsent(key, durable);
    }

    /**
     * Synchronous: records that the update under {@code key} counted in its round, which closed
     * (the job says so, also for updates accepted by another gateway), so a resend here is a
     * duplicate.
     */
    public void counted(String key) {
        accepted.putIfAbsent(key, CompletableFuture.completedFuture(null));
    }

    /** Forgets an update that was recorded but could not enter the job. */
    public void withdraw(String key, CompletableFuture<Void> durable) {
        accepted.remove(key, durable);
    }

    /**
     * Asynchronous: a learner's update was accepted; its previous one is forgotten once durable (a
     * learner gets its next task before its update is acknowledged, and the final Shutdown waits
     * for every update accepted here).
     */
    public void acceptedAsync(String learnerId, String key) {
        String previous = latestAsync.put(learnerId, key);
        if (previous != null && !previous.equals(key)) {
            CompletableFuture<Void> f = accepted.get(previous);
            if (f == null || f.isDone()) {
                accepted.remove(previous);
            } else {
                f.whenComplete((v, e) -> accepted.remove(previous, f));
            }
        }
    }

    /** Marks an evaluation received; false if it was already. */
    public boolean markEvaluated(String learnerId, long version) {
        return evaluated.add(learnerId + "@" + version);
    }

    public boolean evaluated(String learnerId, long version) {
        return evaluated.contains(learnerId + "@" + version);
    }

    /**
     * Synchronous: forgets updates of rounds before {@code round} and evaluations of versions
     * before {@code round - 1}.
     */
    public void forgetBefore(long round) {
        accepted.keySet().removeIf(k -> suffixBelow(k, round));
        evaluated.removeIf(k -> suffixBelow(k, round - 1));
    }

    /**
     * Completes once every update accepted so far is durable, or after {@code timeoutMs} in case no
     * checkpoint completes any more.
     */
    public CompletableFuture<Void> allDurable(long timeoutMs) {
        CompletableFuture<?>[] pending =
                accepted.values().stream()
                        .filter(f -> !f.isDone())
                        .toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(pending)
                .completeOnTimeout(null, timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** How many accepted updates are remembered. */
    public int size() {
        return accepted.size();
    }

    private static boolean suffixBelow(String key, long bound) {
        try {
            return Long.parseLong(key.substring(key.lastIndexOf('@') + 1)) < bound;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
