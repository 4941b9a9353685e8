package org.metisfl.flink.coordinator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.config.CoordinatorOptions;
import org.metisfl.flink.connector.store.EncryptedModelFile;
import org.metisfl.flink.model.CkksPublicParameters;
import org.metisfl.flink.model.HeContexts;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.RoundResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parts both training protocols share: the options, the learner registry, the global model and
 * its publisher, evaluation tracking and termination; and the two steps they share: starting the
 * federation and writing a round's result (which may end the federation).
 */
public final class Federation {
    private static final Logger LOG = LoggerFactory.getLogger(Federation.class);

    final CoordinatorOptions options;
    final LearnerRegistry learners;
    final ModelPublisher model;
    final EvaluationTracker evaluation;
    final Termination termination;

    public Federation(
            CoordinatorOptions options,
            LearnerRegistry learners,
            ModelPublisher model,
            EvaluationTracker evaluation) {
        this.options = options;
        this.learners = learners;
        this.model = model;
        this.evaluation = evaluation;
        this.termination = new Termination(options);
    }

    /**
     * A new federation's progress: with the initial model file's model (published at once), or
     * waiting for the first learner's weights.
     */
    FederationProgress start(CoordinatorOutput out) {
        FederationProgress p = new FederationProgress();
        if (options.initialModelFile().isPresent()) {
            String file = options.initialModelFile().get();
            if (options.encrypted() && EncryptedModelFile.isEncryptedModelFile(file)) {
                EncryptedModelFile stored = storedEncryptedModel(file);
                installInitialModel(p, stored.tensors(), stored.payload());
                model.publish(p, false, out);
                return p;
            }
            ModelCodec.LoadedModel loaded;
            try {
                loaded = ModelCodec.readModelFile(Path.of(file));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the initial model " + file, e);
            }
            LOG.info("Initial model from {}: {} values", file, loaded.values().length);
            installInitialModel(
                    p,
                    loaded.tensors(),
                    options.encrypted()
                            ? encryptInitialModel(loaded.values())
                            : Payload.dense(loaded.values()));
            model.publish(p, false, out);
        } else {
            p.phase = Phase.WAITING_FOR_MODEL;
        }
        return p;
    }

    /**
     * Installs model version 0 (dense values, or with secure aggregation the whole model's
     * ciphertexts in order); the federation then waits for learners.
     */
    void installInitialModel(
            FederationProgress p,
            java.util.List<org.metisfl.flink.model.TensorSpecInfo> tensors,
            Payload values) {
        model.install(
                p,
                tensors,
                values,
                options.encrypted()
                        ? HeContexts.of(options.heBackend(), options.hePreset())
                                .valuesPerCiphertext()
                        : 1);
        p.phase = Phase.WAITING_FOR_LEARNERS;
    }

    /**
     * Secure aggregation from a stored encrypted version: its ciphertexts as they are (no key
     * needed), once they are found to be under the federation's public key.
     */
    private EncryptedModelFile storedEncryptedModel(String file) {
        HeContext he = HeContexts.of(options.heBackend(), options.hePreset());
        try {
            EncryptedModelFile stored = EncryptedModelFile.read(Path.of(file));
            stored.checkFits(
                    he.backendId(),
                    HexFormat.of().formatHex(he.parameterHash()),
                    publicParameters().keyId());
            LOG.info(
                    "Initial model from the stored encrypted version {} (key id {}): {} values",
                    file,
                    stored.metadata().encryption.keyId,
                    stored.metadata().values);
            return stored;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the initial model " + file, e);
        }
    }

    private CkksPublicParameters publicParameters() {
        String file =
                options.hePublicKeyFile()
                        .orElseThrow(
                                () ->
                                        new IllegalStateException(
                                                "secure-aggregation.public-key is needed with an"
                                                        + " initial model file"));
        try {
            return CkksPublicParameters.read(Path.of(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the public parameters " + file, e);
        }
    }

    /**
     * Secure aggregation: the initial model file encrypted with the federation's public key (the
     * job holds no secret key), all ciphertexts in order as one payload. The plaintext array is
     * dropped right after; only ciphertexts reach the job's state.
     */
    private Payload encryptInitialModel(float[] values) {
        String file =
                options.hePublicKeyFile()
                        .orElseThrow(
                                () ->
                                        new IllegalStateException(
                                                "secure-aggregation.public-key is needed to"
                                                        + " encrypt the initial model file"));
        HeContext he = HeContexts.of(options.heBackend(), options.hePreset());
        CkksPublicParameters pub;
        try {
            pub = CkksPublicParameters.read(Path.of(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the public parameters " + file, e);
        }
        PublicKey key = pub.publicKey(he);
        List<byte[]> cts = new ArrayList<>();
        for (Ciphertext c : he.encrypt(key, values)) {
            cts.add(he.serialize(c));
        }
        LOG.info(
                "Initial model encrypted with the public key {} ({}): {} ciphertexts",
                pub.keyId(),
                file,
                cts.size());
        return Payload.ciphertext(
                he.backendId(),
                HexFormat.of().formatHex(he.parameterHash()),
                values.length,
                ShardCiphertexts.update(cts).encode());
    }

    /**
     * Writes a round's result once its evaluations are in (or timed out). A result that is the
     * last, or whose evaluation reaches the termination cutoff, ends the federation: the gateways
     * are told, with the reason.
     */
    void writeResult(RoundStats s, FederationProgress p, CoordinatorOutput out) {
        RoundResult r = evaluation.complete(s, options.name());
        boolean cutoff = p.phase != Phase.FINISHED && termination.reachedCutoff(r.evalMetrics);
        r.last = s.last || cutoff;
        out.result(r);
        if (cutoff && !s.last) {
            p.finishReason = termination.cutoffReason(r.evalMetrics, s.round);
        }
        if (r.last && p.phase != Phase.FINISHED) {
            p.phase = Phase.FINISHED;
            if (p.finishReason == null) {
                p.finishReason = termination.completed("rounds");
            }
            p.evaluators = new ArrayList<>();
            LOG.info("Federation {} finished: {}", options.name(), p.finishReason);
            model.publish(p, false, out);
        }
    }

    /** Asks for a result once the round's evaluations are in, or at the evaluation timeout. */
    void awaitEvaluations(RoundStats s, FederationProgress p, CoordinatorOutput out) {
        if (s.expectedEvaluators.isEmpty()) {
            writeResult(s, p, out);
        } else {
            out.timerAt(evaluation.timeoutAt(s.closedAt));
        }
    }
}
