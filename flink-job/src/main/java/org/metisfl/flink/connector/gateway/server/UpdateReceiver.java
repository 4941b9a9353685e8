package org.metisfl.flink.connector.gateway.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32C;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.aggregation.rule.ContributionWeights;
import org.metisfl.flink.config.FederationOptions.Scaling;
import org.metisfl.flink.config.GatewayLimits;
import org.metisfl.flink.config.PrivacyOptions;
import org.metisfl.flink.connector.gateway.server.ModelBoard.ModelSnapshot;
import org.metisfl.flink.connector.gateway.server.TaskDispatch.Plan;
import org.metisfl.flink.model.CiphertextShardDecoder;
import org.metisfl.flink.model.GatewayEvent;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.Payload;
import org.metisfl.flink.model.ShardDecoder;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.proto.v1.TrainTask;
import org.metisfl.proto.v1.UpdateChunk;
import org.metisfl.proto.v1.UpdateHeader;
import org.metisfl.transport.LeasedMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Receives one uploaded update (header, then bytes), validates it completely, and only then hands
 * all of its shards to the job in one batch. The learner's answer comes once the batch is durable
 * (its checkpoint completed), so an acknowledged update is never lost.
 *
 * <p>The bytes are decoded as they arrive straight into the float arrays of the update's shards
 * ({@link ShardDecoder}), which become the job's records without another copy. A chunk's bytes come
 * as views of gRPC's receive buffers ({@link LeasedMessage}, bound by {@link
 * GatewayServer#learnerService}), valid only during {@code onNext}: they are decoded there and
 * never kept.
 *
 * <p>Memory is bounded by the gateway's {@link IngestBudget}, with gRPC manual flow control: the
 * receiver asks for one message at a time, and after the header it asks for the update's bytes only
 * once the budget granted room for the whole update. A granted upload then runs to its end; its
 * room is released when the reader emits its batch into the job, or when the upload fails, is a
 * retry of an accepted update, or its learner goes away (cancel). A retry of an accepted update
 * reserves nothing: its bytes are read and dropped.
 *
 * <p>Integrity: each data chunk's offset must be the number of bytes received so far, and the
 * bytes' CRC-32C (computed as they arrive) must match the header's, before anything is accepted.
 * CRC-32C rather than a cryptographic hash because it guards against accidents (a learner's bug, a
 * proxy that reorders or truncates), not forgery, which TLS prevents on the wire and which the
 * learner, the author of the bytes, could always commit: the JDK computes it with the CPU's CRC32
 * instructions at many GB/s, some 25 times faster than SHA-256 here, so the check costs the gateway
 * almost nothing.
 *
 * <p>Limits ({@link UploadLimiter}): the gateway's and the learner's uploads in flight, one per
 * learner and round (a newer one replaces the older), and the idle and slow-upload timeouts.
 *
 * <p>gRPC calls {@code onNext}, {@code onError}, {@code onCompleted} and the cancel handler of one
 * call one at a time; the budget's grant, the limiter's timer and a replacing upload come from
 * other threads, so every entry point holds the receiver's lock.
 */
final class UpdateReceiver implements StreamObserver<LeasedMessage<UpdateChunk>> {
    private static final Logger LOG = LoggerFactory.getLogger(UpdateReceiver.class);

    private final GatewayState state;
    private final ServerCallStreamObserver<SubmitUpdateResponse> response;

    private UpdateHeader header;
    private List<TensorSpecInfo> tensors;
    private ShardDecoder decoder;
    private CiphertextShardDecoder sealed;
    private IngestBudget.Reservation reservation;
    private CompletableFuture<Void> original;
    private String updateKey;
    private boolean initialUpload;
    private boolean failed;

    private final UploadLimiter limiter;
    private final CRC32C crc = new CRC32C();
    private String claimedLearner;
    private String claimedKey;
    private boolean ended;

    /** When the gateway started waiting for the next message; -1 while it does not ask for one. */
    private long waitingSince;

    /** When the ingest budget granted the upload's room; -1 before. */
    private long grantedAt = -1;

    private long bytesSinceGrant;

    private UpdateReceiver(
            GatewayState state, ServerCallStreamObserver<SubmitUpdateResponse> response) {
        this.state = state;
        this.response = response;
        this.limiter = state.uploads();
        this.waitingSince = limiter.nanos();
    }

    /**
     * Starts receiving a SubmitUpdate call with manual flow control. Call it from the service
     * method, before it returns the receiver (gRPC allows the flow control and cancel handler to be
     * set only then).
     */
    static UpdateReceiver start(
            GatewayState state, ServerCallStreamObserver<SubmitUpdateResponse> response) {
        response.disableAutoRequest();
        UpdateReceiver receiver = new UpdateReceiver(state, response);
        response.setOnCancelHandler(receiver::cancelled);
        StatusRuntimeException full = state.uploads().start(receiver);
        if (full != null) {
            receiver.fail(full);
            return receiver;
        }
        response.request(1); // the header
        return receiver;
    }

    @Override
    public synchronized void onNext(LeasedMessage<UpdateChunk> received) {
        UpdateChunk chunk = received.message();
        if (failed) {
            return;
        }
        if (header == null) {
            if (!chunk.hasHeader()) {
                fail(LearnerStatus.invalid("the first message of an upload must be its header"));
                return;
            }
            header = chunk.getHeader();
            StatusRuntimeException problem = checkHeader(header);
            if (problem == null) {
                problem = claim(header);
            }
            if (problem != null) {
                fail(problem);
            } else if (original != null) {
                granted();
                response.request(Integer.MAX_VALUE);
            } else {
                // Room for the whole update is reserved: once granted, read it at full speed.
                // Until then the learner cannot send (flow control): no timeout runs.
                waitingSince = -1;
                reservation = state.queue().budget().reserve(totalBytes(), this::onGrant);
            }
            return;
        }
        if (chunk.hasHeader()) {
            fail(LearnerStatus.invalid("an upload has one header, and it comes first"));
            return;
        }
        long size = received.bytesSize();
        waitingSince = limiter.nanos();
        bytesSinceGrant += size;
        if (original != null) {
            return; // a retry of an accepted update: its bytes are not needed
        }
        state.metrics().addBytesIn(size);
        if (chunk.hasOffset()) {
            if (chunk.getOffset() != receivedBytes()) {
                fail(
                        LearnerStatus.invalid(
                                "a chunk at offset "
                                        + chunk.getOffset()
                                        + " arrived after "
                                        + receivedBytes()
                                        + " bytes: chunks are missing, repeated or out of order;"
                                        + " send the whole update again, in order"));
                return;
            }
        } else if (state.config().limits().integrityRequired()) {
            fail(
                    LearnerStatus.invalid(
                            "a data chunk without its offset: this gateway checks the integrity"
                                    + " of uploads (gateway.upload-integrity: required); send"
                                    + " UpdateChunk.offset and UpdateHeader.crc32c"));
            return;
        }
        if (size > remainingBytes()) {
            fail(
                    LearnerStatus.invalid(
                            sealed != null
                                    ? "the upload has more bytes than its header's shard_bytes"
                                            + " announce ("
                                            + totalBytes()
                                            + ")"
                                    : "the upload has more bytes than its header's tensors hold ("
                                            + totalBytes()
                                            + ")"));
            return;
        }
        // Views of gRPC's receive buffers, valid during this call only: checked and decoded (or,
        // for ciphertexts, copied) now.
        for (ByteBuffer part : received.bytes()) {
            crc.update(part.duplicate());
            if (sealed != null) {
                sealed.append(part);
            } else {
                decoder.append(part);
            }
        }
    }

    private long totalBytes() {
        return sealed != null ? sealed.totalBytes() : decoder.totalBytes();
    }

    /**
     * The checks of a whole upload before anything of it is accepted: its CRC-32C, and that its
     * learner was not revoked while it uploaded. False (and the upload failed) if one fails.
     */
    private boolean checkWhole() {
        if (header.hasCrc32C() && (int) crc.getValue() != header.getCrc32C()) {
            fail(
                    LearnerStatus.invalid(
                            String.format(
                                    "the upload's bytes have CRC-32C %08x, its header says %08x:"
                                            + " the bytes were corrupted on their way; send the"
                                            + " update again",
                                    (int) crc.getValue(), header.getCrc32C())));
            return false;
        }
        StatusRuntimeException revoked = state.authentication().check(header.getCredentials());
        if (revoked != null) {
            fail(revoked);
            return false;
        }
        return true;
    }

    private long receivedBytes() {
        return totalBytes() - remainingBytes();
    }

    private long remainingBytes() {
        return sealed != null ? sealed.remainingBytes() : decoder.remainingBytes();
    }

    @Override
    public synchronized void onError(Throwable t) {
        failed = true;
        decoder = null;
        sealed = null;
        releaseBudget();
        end();
        LOG.debug("Upload aborted by the learner: {}", t.toString());
    }

    private synchronized void cancelled() {
        failed = true;
        decoder = null;
        releaseBudget();
        end();
    }

    @Override
    public synchronized void onCompleted() {
        if (failed) {
            return;
        }
        waitingSince = -1;
        if (header == null) {
            fail(LearnerStatus.invalid("empty upload: send a header, then the tensor bytes"));
            return;
        }
        if (original != null) {
            end();
            original.whenComplete((v, e) -> answer(SubmitUpdateResponse.Status.DUPLICATE));
            return;
        }
        if (sealed != null) {
            if (remainingBytes() == 0 && !checkWhole()) {
                return;
            }
            onEncryptedCompleted();
            return;
        }
        if (!decoder.isComplete()) {
            fail(
                    LearnerStatus.invalid(
                            "truncated upload: received "
                                    + decoder.receivedBytes()
                                    + " of "
                                    + decoder.totalBytes()
                                    + " bytes; send the whole update again"));
            return;
        }
        if (!checkWhole()) {
            return;
        }
        if (decoder.nonFiniteIndex() >= 0) {
            fail(
                    LearnerStatus.invalid(
                            nonFinite(decoder.nonFiniteIndex(), decoder.nonFiniteValue())));
            return;
        }
        float[][] shards = decoder.shards();
        decoder = null;
        end(); // received whole: from here on it waits only for its answer
        String learner = header.getCredentials().getLearnerId();
        long round = header.getRound();
        if (initialUpload) {
            acceptInitialModel(learner, Payload.dense(shards[0]));
        } else {
            Payload[] payloads = new Payload[shards.length];
            for (int s = 0; s < shards.length; s++) {
                payloads[s] = Payload.dense(shards[s]);
            }
            acceptUpdate(learner, round, payloads);
        }
    }

    /**
     * An encrypted upload is complete: every ciphertext is checked without a key (well-formed, the
     * federation's backend, parameters and key, counts) before anything enters the job.
     */
    private void onEncryptedCompleted() {
        if (!sealed.isComplete()) {
            fail(
                    LearnerStatus.invalid(
                            "truncated upload: received "
                                    + sealed.receivedBytes()
                                    + " of "
                                    + sealed.totalBytes()
                                    + " bytes its shard_bytes announce; send the whole update"
                                    + " again"));
            return;
        }
        Payload[] payloads;
        try {
            payloads = sealed.payloads();
        } catch (CiphertextShardDecoder.Refusal r) {
            LOG.debug("Refused an encrypted upload: {}", r.getMessage());
            fail(r.status().asRuntimeException());
            return;
        }
        sealed = null;
        end(); // received whole: from here on it waits only for its answer
        String learner = header.getCredentials().getLearnerId();
        if (initialUpload) {
            acceptInitialModel(learner, joined(payloads));
        } else {
            acceptUpdate(learner, header.getRound(), payloads);
        }
    }

    /**
     * The shards of an encrypted initial model as one payload: all their ciphertexts in order, in
     * one {@link ShardCiphertexts} (the coordinator cuts it into the model's shards again).
     */
    private static Payload joined(Payload[] shards) {
        List<byte[]> all = new ArrayList<>();
        long values = 0;
        for (Payload p : shards) {
            all.addAll(ShardCiphertexts.decode(p.ciphertext()).ciphertexts());
            values += p.size();
        }
        return Payload.ciphertext(
                shards[0].scheme(),
                shards[0].parameterHash(),
                (int) values,
                ShardCiphertexts.update(all).encode());
    }

    /**
     * Whether this upload must be ciphertexts: every update of an encrypted federation, except the
     * round-0 initial model in threshold mode (plaintext: there is no joint key yet, and untrained
     * weights hold no data).
     */
    private boolean encryptedUpload(UpdateHeader h) {
        return state.config().encrypted()
                && !(state.config().threshold() != null && h.getRound() == 0);
    }

    private StatusRuntimeException checkHeader(UpdateHeader h) {
        StatusRuntimeException denied = state.authentication().check(h.getCredentials());
        if (denied != null) {
            return denied;
        }
        if (state.isFinished()) {
            return LearnerStatus.failedPrecondition("the federation is over");
        }
        if (!h.hasCrc32C() && state.config().limits().integrityRequired()) {
            return LearnerStatus.invalid(
                    "the header has no crc32c: this gateway checks the integrity of uploads"
                            + " (gateway.upload-integrity: required); send UpdateHeader.crc32c"
                            + " and UpdateChunk.offset");
        }
        if (encryptedUpload(h) && !h.hasEncryption()) {
            return LearnerStatus.invalid(
                    "plaintext update to an encrypted federation: this federation aggregates"
                            + " CKKS ciphertexts only (secure-aggregation: ckks, backend "
                            + state.config().heBackend()
                            + ", preset "
                            + state.config().hePreset()
                            + "); give the learner the federation's key bundle so it encrypts its"
                            + " updates (JoinResponse.encryption says what to use)");
        }
        if (!encryptedUpload(h) && h.hasEncryption()) {
            if (state.config().threshold() != null) {
                return LearnerStatus.invalid(
                        "encrypted initial model in threshold mode: the initial model is"
                                + " plaintext (secure-aggregation: ckks-threshold; no joint key"
                                + " exists before the first round); send the round-0 weights as"
                                + " float32 values");
            }
            return LearnerStatus.invalid(
                    "encrypted update to a plaintext federation: this federation has no secure"
                            + " aggregation (secure-aggregation: none) and cannot add ciphertexts;"
                            + " send plaintext float32 values, or join a federation with"
                            + " secure-aggregation: ckks");
        }
        String problem = ModelCodec.checkSpecs(h.getTensorsList());
        if (problem != null) {
            return LearnerStatus.invalid(problem);
        }
        long total = 0;
        tensors = new ArrayList<>(h.getTensorsCount());
        for (TensorSpec s : h.getTensorsList()) {
            TensorSpecInfo info = ModelCodec.fromProto(s);
            tensors.add(info);
            total += info.size();
        }
        long totalBytes = total * Float.BYTES;
        if (totalBytes > state.config().maxModelBytes() || totalBytes > Integer.MAX_VALUE - 8) {
            return Status.RESOURCE_EXHAUSTED
                    .withDescription(
                            "the update holds "
                                    + totalBytes
                                    + " bytes, more than gateway.max-model-size ("
                                    + state.config().maxModelBytes()
                                    + ")")
                    .asRuntimeException();
        }
        String learner = h.getCredentials().getLearnerId();
        boolean async = state.config().asynchronous();
        initialUpload = h.getRound() == 0 && (!async || state.model() == null);
        if (h.hasEncryption()) {
            boolean wantDelta = !initialUpload && state.config().encryptedDeltas();
            if (h.getEncryption().getDelta() != wantDelta) {
                return LearnerStatus.invalid(
                        wantDelta
                                ? "model update to a delta federation: this federation (FedBuff"
                                        + " over ciphertexts) adds encrypted deltas; send Enc(your"
                                        + " weights - the weights of the model version you trained"
                                        + " on) with encryption.delta = true"
                                        + " (JoinResponse.encryption.delta says so)"
                                : "delta update where a model is expected: "
                                        + (initialUpload
                                                ? "the initial model is uploaded whole"
                                                : "this federation aggregates models")
                                        + "; send your encrypted weights with encryption.delta"
                                        + " = false");
            }
        }
        if (initialUpload) {
            if (!state.board().initialModelWanted()) {
                return LearnerStatus.failedPrecondition(
                        "the federation already has an initial model; wait for a task");
            }
        } else {
            ModelSnapshot model = state.model();
            String key;
            if (async) {
                if (model == null) {
                    return LearnerStatus.starting(
                            "the gateway has no global model yet (it is starting);"
                                    + " retry shortly");
                }
                long base = h.hasBaseModelVersion() ? h.getBaseModelVersion() : h.getRound();
                long stale = model.version() - base;
                if (stale > state.config().asyncMaxStaleness()) {
                    state.onAsyncUpdateRefused(learner, h.getTaskId());
                    return LearnerStatus.failedPrecondition(
                            "the update was trained on model version "
                                    + base
                                    + ", "
                                    + stale
                                    + " versions behind the current version "
                                    + model.version()
                                    + " (async.max-staleness is "
                                    + state.config().asyncMaxStaleness()
                                    + "); train on your next task instead");
                }
                if (h.getTaskId().isEmpty()) {
                    return LearnerStatus.invalid(
                            "task_id is empty: send the id of the task the update answers");
                }
                String lost = state.lostBaseModel(h.getTaskId(), base);
                if (lost != null) {
                    // Not counted (it was never acknowledged): the learner drops it.
                    return LearnerStatus.failedPrecondition(
                            lost + "; the update was not counted, train on your next task");
                }
                key = UpdateLedger.updateKey(learner, h.getTaskId());
            } else {
                Plan plan = state.plan();
                if (plan == null || model == null || !state.directiveSeen()) {
                    // A gateway that just (re)started learns the current round from the job in
                    // a moment: the learner should retry, not drop its update.
                    return LearnerStatus.starting(
                            "the gateway does not know round "
                                    + h.getRound()
                                    + " yet (it is starting); retry shortly");
                }
                key = UpdateLedger.updateKey(learner, Long.toString(h.getRound()));
                CompletableFuture<Void> counted = state.ledger().original(key);
                if (counted != null) {
                    // A resend of an update that counted, maybe after its round closed.
                    updateKey = key;
                    original = counted;
                    return null;
                }
                if (h.getRound() != plan.round()) {
                    return LearnerStatus.failedPrecondition(
                            "round "
                                    + h.getRound()
                                    + " is not open"
                                    + (plan == null
                                            ? ""
                                            : " (the open round is " + plan.round() + ")")
                                    + "; wait for the next task");
                }
                if (!plan.participants().contains(learner)) {
                    return LearnerStatus.failedPrecondition(
                            "learner "
                                    + learner
                                    + " is not a participant of round "
                                    + plan.round());
                }
                if (plan.dropped().contains(learner)) {
                    return LearnerStatus.failedPrecondition(
                            "learner "
                                    + learner
                                    + " was dropped from round "
                                    + plan.round()
                                    + " (its task stream was gone longer than"
                                    + " round.participant-grace); wait for the next task");
                }
            }
            String mismatch = compareSpecs(h.getTensorsList(), model.tensors());
            if (mismatch != null) {
                return LearnerStatus.invalid(mismatch);
            }
            if (state.config().scaling() == Scaling.EXAMPLES && h.getNumTrainingExamples() <= 0) {
                return LearnerStatus.invalid(
                        "num_training_examples must be > 0: it weighs the update in FedAvg");
            }
            if (state.config().scaling() == Scaling.BATCHES && h.getNumCompletedBatches() <= 0) {
                return LearnerStatus.invalid(
                        "num_completed_batches must be > 0: it weighs the update"
                                + " (aggregation.scaling: batches)");
            }
            String inflated = checkWeight(learner, h);
            if (inflated != null) {
                return LearnerStatus.invalid(inflated);
            }
            updateKey = key;
            original = state.ledger().original(key);
            if (original != null) {
                return null; // a retry: answered DUPLICATE once the original is durable
            }
        }
        for (Map.Entry<String, Double> m : h.getMetricsMap().entrySet()) {
            if (!Double.isFinite(m.getValue())) {
                return LearnerStatus.invalid("metric '" + m.getKey() + "' is not finite");
            }
        }
        if (encryptedUpload(h)) {
            // Shards of ciphertexts, also for the initial model: the learner encrypts each shard.
            try {
                sealed =
                        CiphertextShardDecoder.of(
                                        state.he(),
                                        total,
                                        state.config().shardSize(),
                                        h.getEncryption().getBackendId(),
                                        h.getEncryption().getParameterHash(),
                                        h.getEncryption().getShardBytesList(),
                                        maxCiphertextBytes(totalBytes))
                                .expectingKey(state.updateKeyId());
            } catch (CiphertextShardDecoder.Refusal r) {
                return r.status().asRuntimeException();
            }
            return null;
        }
        // The initial model enters the job whole (one array); an update, cut in shards.
        int shardSize = initialUpload ? (int) Math.max(1, total) : state.config().shardSize();
        decoder = new ShardDecoder(total, shardSize);
        return null;
    }

    /**
     * The most ciphertext bytes an encrypted upload of a model of {@code plaintextBytes} float32
     * bytes may announce: CKKS expands a value 3.75 to 11.25 times with the shipped presets (see
     * secure-aggregation.md), so 16 times and 1 MiB of framing bound every honest upload.
     */
    static long maxCiphertextBytes(long plaintextBytes) {
        return 16 * plaintextBytes + (1 << 20);
    }

    private void acceptInitialModel(String learner, Payload values) {
        if (!state.board().takeInitialModelSlot()) {
            fail(
                    LearnerStatus.failedPrecondition(
                            "the federation already has an initial model; wait for a task"));
            return;
        }
        GatewayEvent e = GatewayEvent.initialModel(state.gatewayIndex(), learner, tensors, values);
        state.queue()
                .offer(
                        List.of(e),
                        Long.MAX_VALUE,
                        () -> answer(SubmitUpdateResponse.Status.ACCEPTED),
                        reservation);
        reservation = null; // the queue's now
    }

    private void acceptUpdate(String learner, long round, Payload[] shards) {
        boolean async = state.config().asynchronous();
        long base = header.hasBaseModelVersion() ? header.getBaseModelVersion() : round;
        boolean unclipped = true;
        PrivacyOptions privacy = state.config().privacy();
        if (privacy.centralDp()) {
            // Central DP is refused with secure aggregation at submit: the shards are dense.
            float[][] dense = new float[shards.length][];
            for (int s = 0; s < shards.length; s++) {
                dense[s] = shards[s].values();
            }
            TaskDispatch.Plan plan = state.plan();
            UpdateClipper.Clipped c =
                    state.clipper()
                            .clip(
                                    state.model(),
                                    header.hasBaseModelVersion() ? base : -1,
                                    dense,
                                    state.config().shardSize(),
                                    plan != null && plan.clipNorm() > 0
                                            ? plan.clipNorm()
                                            : privacy.clipNorm(),
                                    privacy.clipOn(),
                                    header.hasUnclipped() ? header.getUnclipped() : null);
            if (c == null) {
                fail(
                        LearnerStatus.failedPrecondition(
                                "the update was trained from model version "
                                        + base
                                        + ", not from the round's model; central DP clips each"
                                        + " update against the round's model: wait for the next"
                                        + " task"));
                return;
            }
            float[][] deltas = c.deltas();
            for (int s = 0; s < shards.length; s++) {
                shards[s] = Payload.dense(deltas[s]);
            }
            unclipped = c.unclipped();
        }
        CompletableFuture<Void> durable = new CompletableFuture<>();
        CompletableFuture<Void> earlier = state.ledger().accept(updateKey, durable);
        if (earlier != null) {
            releaseBudget();
            earlier.whenComplete((v, e) -> answer(SubmitUpdateResponse.Status.DUPLICATE));
            return;
        }
        int numShards = shards.length;
        double weight =
                ContributionWeights.of(
                        state.config().scaling(),
                        header.getNumTrainingExamples(),
                        header.getNumCompletedBatches());
        List<GatewayEvent> batch = new ArrayList<>(numShards + 1);
        batch.add(
                GatewayEvent.metrics(
                        GatewayEvent.Kind.TRAIN_REPORT,
                        state.gatewayIndex(),
                        learner,
                        round,
                        header.getNumTrainingExamples(),
                        Map.copyOf(header.getMetricsMap())));
        for (int s = 0; s < numShards; s++) {
            GatewayEvent e =
                    GatewayEvent.updateShard(
                            state.gatewayIndex(),
                            learner,
                            round,
                            s,
                            numShards,
                            weight,
                            header.getTaskId(),
                            base,
                            shards[s]);
            e.unclipped = unclipped; // central DP: the values are the clipped delta
            batch.add(e);
        }
        Runnable onDurable =
                () -> {
                    // Answer first: completing may send the final Shutdown.
                    answer(SubmitUpdateResponse.Status.ACCEPTED);
                    durable.complete(null);
                };
        // Synchronous: the update's own round must still be open when its last byte is in (not
        // whichever round is open then), else it would be answered ACCEPTED and never counted.
        // Asynchronous: the update must still be within async.max-staleness of the model served
        // now, which every aggregator keeps, else it would be answered ACCEPTED and dropped.
        String refused =
                async
                        ? state.offerAsyncUpdate(base, batch, onDurable, reservation)
                        : state.offerRoundUpdate(learner, round, batch, onDurable, reservation);
        if (refused == null) {
            reservation = null; // the queue's now
            if (async) {
                state.onAsyncUpdateAccepted(learner, updateKey, durable);
            }
            return;
        }
        state.ledger().withdraw(updateKey, durable);
        durable.complete(null);
        if (async) {
            state.onAsyncUpdateRefused(learner, header.getTaskId());
        }
        // Not counted, and resending it cannot help: FAILED_PRECONDITION tells the learner to
        // drop it and wait for its next task.
        fail(
                LearnerStatus.failedPrecondition(
                        refused
                                + "; the update was not counted, "
                                + (async ? "train on your next task" : "wait for the next task")));
    }

    /**
     * Passes over its data a learner may count in {@code num_training_examples} when the round's
     * task does not fix its epochs (the learner's own epochs, or local steps).
     */
    static final long MAX_PASSES = 100;

    /**
     * Why an update's declared weight is refused, or null: {@code num_training_examples} may be at
     * most what the learner declared at join times the passes over its data the round asked for
     * (the task's epochs, or {@link #MAX_PASSES} when the task leaves them to the learner or sets
     * local steps). A learner this gateway has no declaration of (it joined elsewhere or before a
     * restart) is not bounded here.
     */
    private String checkWeight(String learner, UpdateHeader h) {
        long declared = state.declaredExamples(learner);
        if (declared < 0) {
            return null;
        }
        Plan plan = state.config().asynchronous() ? null : state.plan();
        long passes = MAX_PASSES;
        if (plan != null) {
            TrainTask task = plan.trainTaskOf(learner);
            if (task.getEpochs() > 0 && task.getLocalSteps() == 0) {
                passes = task.getEpochs();
            }
        }
        long bound = declared > Long.MAX_VALUE / passes ? Long.MAX_VALUE : declared * passes;
        if (h.getNumTrainingExamples() <= bound) {
            return null;
        }
        return "num_training_examples "
                + h.getNumTrainingExamples()
                + " exceeds the "
                + bound
                + " this learner may claim ("
                + declared
                + " training examples declared at join x "
                + passes
                + (passes == MAX_PASSES ? " passes at most" : " epochs of the task")
                + ")";
    }

    private static String compareSpecs(List<TensorSpec> got, List<TensorSpec> want) {
        if (got.size() != want.size()) {
            return "the update has " + got.size() + " tensors, the global model " + want.size();
        }
        for (int i = 0; i < got.size(); i++) {
            TensorSpec g = got.get(i);
            TensorSpec w = want.get(i);
            if (!g.getName().equals(w.getName())) {
                return "tensor "
                        + i
                        + " is '"
                        + g.getName()
                        + "', the global model has '"
                        + w.getName()
                        + "' there";
            }
            if (!g.getShapeList().equals(w.getShapeList())) {
                return "tensor '"
                        + g.getName()
                        + "' has shape "
                        + g.getShapeList()
                        + " but the global model has "
                        + w.getShapeList();
            }
        }
        return null;
    }

    /** Why an update with a value that is not finite is refused, naming its tensor and index. */
    private String nonFinite(long index, float value) {
        long offset = index;
        for (TensorSpecInfo t : tensors) {
            if (offset < t.size()) {
                return "tensor '"
                        + t.name
                        + "' holds "
                        + value
                        + " at index "
                        + offset
                        + "; updates must be finite";
            }
            offset -= t.size();
        }
        throw new IllegalStateException("value " + index + " is past the update's tensors");
    }

    /** Gives the upload's room in the budget back, unless the queue took it over (idempotent). */
    private void releaseBudget() {
        if (reservation != null) {
            reservation.release();
            reservation = null;
        }
    }

    private synchronized void fail(StatusRuntimeException error) {
        state.metrics().countRefused(error.getStatus().getCode());
        failed = true;
        decoder = null;
        sealed = null;
        releaseBudget();
        end();
        try {
            response.onError(error);
        } catch (RuntimeException e) {
            LOG.debug("Could not answer a learner: {}", e.toString());
        }
    }

    /**
     * Binds the upload to its learner and round (task), within the learner's limit; an older upload
     * of the same round is aborted.
     */
    private StatusRuntimeException claim(UpdateHeader h) {
        String learner = h.getCredentials().getLearnerId();
        String key =
                initialUpload
                        ? "init"
                        : state.config().asynchronous()
                                ? "task:" + h.getTaskId()
                                : "round:" + h.getRound();
        UploadLimiter.Claim c = limiter.claim(learner, key, this);
        if (c.refused() != null) {
            return c.refused();
        }
        claimedLearner = learner;
        claimedKey = key;
        if (c.replaced() != null) {
            c.replaced()
                    .abort(
                            Status.ABORTED
                                    .withDescription(
                                            "replaced by a newer upload of the same "
                                                    + (key.startsWith("task:") ? "task" : "round")
                                                    + " from this learner")
                                    .asRuntimeException());
        }
        return null;
    }

    private void onGrant() {
        synchronized (this) {
            if (failed) {
                return;
            }
            granted();
        }
        response.request(Integer.MAX_VALUE);
    }

    private void granted() {
        long now = limiter.nanos();
        grantedAt = now;
        waitingSince = now;
        bytesSinceGrant = 0;
    }

    /** Ends the upload with {@code error} unless it already ended (another thread's request). */
    synchronized void abort(StatusRuntimeException error) {
        if (!failed && !ended) {
            fail(error);
        }
    }

    /** Called by the limiter's timer: ends the upload if it idled or ran too slowly. */
    synchronized void checkTimeouts(long now, GatewayLimits limits) {
        if (failed || ended || waitingSince < 0) {
            return;
        }
        long idle = now - waitingSince;
        if (idle >= limits.uploadIdleTimeout().toNanos()) {
            fail(
                    Status.DEADLINE_EXCEEDED
                            .withDescription(
                                    "the upload sent nothing for "
                                            + limits.uploadIdleTimeout().toSeconds()
                                            + " s (gateway.limits.upload-idle-timeout)"
                                            + (header == null ? " after it opened" : ""))
                            .asRuntimeException());
            return;
        }
        long minRate = limits.uploadMinBytesPerSecond();
        if (grantedAt < 0 || minRate <= 0) {
            return;
        }
        long running = now - grantedAt - limits.uploadRateGrace().toNanos();
        if (running <= 0) {
            return;
        }
        double due = minRate * (running / 1e9);
        if (bytesSinceGrant < due) {
            double seconds = (now - grantedAt) / 1e9;
            fail(
                    Status.DEADLINE_EXCEEDED
                            .withDescription(
                                    String.format(
                                            "the upload ran at %.0f bytes/s, below"
                                                    + " gateway.limits.upload-min-rate (%d"
                                                    + " bytes/s after a grace of %d s); its room"
                                                    + " went to the next upload",
                                            bytesSinceGrant / Math.max(seconds, 1e-9),
                                            minRate,
                                            limits.uploadRateGrace().toSeconds()))
                            .asRuntimeException());
        }
    }

    /** The call no longer counts as an upload in flight (idempotent). */
    private void end() {
        if (!ended) {
            ended = true;
            waitingSince = -1;
            limiter.finished(this, claimedLearner, claimedKey);
        }
    }

    private void answer(SubmitUpdateResponse.Status status) {
        if (status == SubmitUpdateResponse.Status.ACCEPTED) {
            state.metrics().countAccepted();
        } else if (status == SubmitUpdateResponse.Status.DUPLICATE) {
            state.metrics().countDuplicate();
        }
        try {
            response.onNext(SubmitUpdateResponse.newBuilder().setStatus(status).build());
            response.onCompleted();
        } catch (RuntimeException e) {
            LOG.debug("Could not answer a learner (it went away): {}", e.toString());
        }
    }
}
