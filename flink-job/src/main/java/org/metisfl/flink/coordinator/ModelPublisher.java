package org.metisfl.flink.coordinator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.model.Directive;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * The current global model, shard by shard, and its publication to the gateways: the model's values
 * as {@link Directive.Kind#MODEL_SHARD} directives (never the whole model as one record), then one
 * {@link Directive.Kind#PUBLISH} directive with the round's plan, the evaluators, Krum's selection
 * and whether the federation finished.
 */
public final class ModelPublisher {
    private final StateMap<Integer, Payload> model;
    private final int shardSize;

    /** Threshold mode: the gateways' threshold state to attach to every PUBLISH, or null. */
    private java.util.function.Function<FederationProgress, byte[]> threshold = p -> null;

    public ModelPublisher(StateMap<Integer, Payload> model, int shardSize) {
        this.model = model;
        this.shardSize = shardSize;
    }

    /** Threshold mode: attaches the gateways' threshold state to every PUBLISH. */
    void attachThreshold(java.util.function.Function<FederationProgress, byte[]> state) {
        this.threshold = state;
    }

    /**
     * Installs the initial model (version 0): dense values cut into shards of the configured size,
     * or (secure aggregation) the ciphertexts of the whole model in order, one {@link
     * ShardCiphertexts} (a learner's encrypted weights, or the model file encrypted by the job),
     * regrouped into shards of the configured size with a plaintext weight total of 1 (or, for a
     * stored encrypted version, the weight total it carries), so that learners decrypt it as they
     * decrypt any global model (Σw·x / Σw). Ciphertexts are only regrouped, never read.
     */
    public void install(
            FederationProgress p,
            List<TensorSpecInfo> tensors,
            Payload values,
            int valuesPerCiphertext) {
        if (values.isDense()) {
            install(p, tensors, values.values());
            return;
        }
        if (shardSize % valuesPerCiphertext != 0) {
            throw new IllegalArgumentException(
                    "shard size " + shardSize + " is no multiple of " + valuesPerCiphertext);
        }
        ShardCiphertexts whole = ShardCiphertexts.decode(values.ciphertext());
        List<byte[]> all = whole.ciphertexts();
        // A fresh encryption (the file's, or the first learner's) carries no weight sum: 1. A
        // stored
        // aggregate keeps its own, so learners divide by what the ciphertexts were weighted with.
        double weightSum = whole.weightSum() > 0 ? whole.weightSum() : 1.0;
        long total = values.size();
        if (all.size() != (total + valuesPerCiphertext - 1) / valuesPerCiphertext) {
            throw new IllegalArgumentException(
                    all.size()
                            + " ciphertexts cannot hold "
                            + total
                            + " values of "
                            + valuesPerCiphertext
                            + " per ciphertext");
        }
        int perShard = shardSize / valuesPerCiphertext;
        int numShards = TensorSpecInfo.numShards(total, shardSize);
        p.tensors = new ArrayList<>(tensors);
        p.numShards = numShards;
        for (int s = 0; s < numShards; s++) {
            int from = s * perShard;
            int to = Math.min(all.size(), from + perShard);
            int shardValues = (int) Math.min(shardSize, total - (long) s * shardSize);
            model.put(
                    s,
                    Payload.ciphertext(
                            values.scheme(),
                            values.parameterHash(),
                            shardValues,
                            new ShardCiphertexts(weightSum, all.subList(from, to)).encode()));
        }
        p.modelVersion = 0;
    }

    /** Installs the initial model (version 0), cut into shards of the configured size. */
    public void install(FederationProgress p, List<TensorSpecInfo> tensors, float[] values) {
        p.tensors = new ArrayList<>(tensors);
        p.numShards = TensorSpecInfo.numShards(values.length, shardSize);
        for (int s = 0; s < p.numShards; s++) {
            int from = s * shardSize;
            int to = Math.min(values.length, from + shardSize);
            model.put(s, Payload.dense(Arrays.copyOfRange(values, from, to)));
        }
        p.modelVersion = 0;
    }

    /** The current global model's values of one shard. */
    public Payload shard(int shard) {
        return model.get(shard);
    }

    /** Forgets the model's values (the model path: the aggregators hold them). */
    void clear() {
        model.clear();
    }

    /** Replaces one shard of the global model (the caller sets the new version). */
    public void replace(int shard, Payload values) {
        model.put(shard, values);
    }

    /**
     * Sends the current model (if any) and what the gateways need to know now; the round's plan
     * only if {@code withPlan}.
     */
    public void publish(FederationProgress p, boolean withPlan, CoordinatorOutput out) {
        publish(p, withPlan, true, out);
    }

    /**
     * Sends the running round's plan again after it changed (a participant was dropped), without
     * the model's values: the model sink still holds the same model version and sends that.
     */
    public void republishPlan(FederationProgress p, CoordinatorOutput out) {
        publish(p, true, false, out);
    }

    private void publish(
            FederationProgress p, boolean withPlan, boolean withValues, CoordinatorOutput out) {
        long modelValues;
        if (p.modelVersion < 0) {
            modelValues = 0;
        } else if (withValues && !p.modelAtShards) {
            modelValues = emitModel(p.modelVersion, p.numShards, out);
        } else {
            modelValues = TensorSpecInfo.totalSize(p.tensors);
        }
        Directive d =
                Directive.publish(p.modelVersion, p.tensors, p.numShards, shardSize, modelValues);
        if (withPlan) {
            Map<String, Long> localSteps = new HashMap<>();
            for (String learner : p.participants) {
                Long steps = p.localSteps.get(learner);
                if (steps != null) {
                    localSteps.put(learner, steps);
                }
            }
            d.withPlan(p.round, p.participants, p.dropped, p.quorum, p.deadline, localSteps)
                    .withClipNorm(p.clipNorm);
        }
        out.directive(
                d.withEvaluators(p.evaluators)
                        .withSelection(p.krumSelectionRound, p.krumSelection)
                        .withCounted(p.countedRound, p.counted)
                        .withEnd(p.phase == Phase.FINISHED, p.finishReason)
                        .withModelInShards(p.modelVersion >= 0 && p.modelAtShards)
                        .withThreshold(threshold.apply(p)));
    }

    /**
     * Emits the model's values, shard by shard, as MODEL_SHARD directives of at most {@link
     * Directive#MAX_SHARD_VALUES} values; returns how many values were emitted.
     */
    private long emitModel(long version, int numShards, CoordinatorOutput out) {
        int offset = 0;
        for (int s = 0; s < numShards; s++) {
            Payload shard = shard(s);
            if (!shard.isDense() || shard.size() <= Directive.MAX_SHARD_VALUES) {
                // Ciphertexts are never cut: a shard is a whole number of them.
                out.directive(Directive.modelShard(version, s, offset, shard));
                offset += shard.size();
                continue;
            }
            float[] values = shard.values();
            for (int from = 0; from < values.length; from += Directive.MAX_SHARD_VALUES) {
                int to = Math.min(values.length, from + Directive.MAX_SHARD_VALUES);
                out.directive(
                        Directive.modelShard(
                                version,
                                s,
                                offset + from,
                                Payload.dense(Arrays.copyOfRange(values, from, to))));
            }
            offset += values.length;
        }
        return offset;
    }
}
