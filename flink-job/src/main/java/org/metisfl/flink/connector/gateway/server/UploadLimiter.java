package org.metisfl.flink.connector.gateway.server;

import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.metisfl.flink.config.GatewayLimits;

/**
 * Bounds what uploads may cost a gateway: how many are in flight at the gateway ({@code
 * gateway.limits.uploads-in-flight}) and per learner ({@code gateway.limits.uploads-per-learner},
 * with at most one per learner and round: a newer upload of the same round or task replaces the
 * older), and how long one may hold its place without sending ({@code
 * gateway.limits.upload-idle-timeout}) or sending too slowly ({@code
 * gateway.limits.upload-min-rate} after {@code gateway.limits.upload-rate-grace}). {@link #check()}
 * runs once a second on the gateway's timer and ends the uploads that overstayed with
 * DEADLINE_EXCEEDED, so a learner sending a byte a second gives its room in the ingest budget back.
 *
 * <p>Thread-safe. It never calls into an upload while holding its own lock (uploads call into it
 * while holding theirs).
 */
final class UploadLimiter {
    private final GatewayLimits limits;
    private final LongSupplier nanoClock;
    private final LinkedHashSet<UpdateReceiver> active = new LinkedHashSet<>();
    private final Map<String, Map<String, UpdateReceiver>> byLearner = new HashMap<>();

    UploadLimiter(GatewayLimits limits, LongSupplier nanoClock) {
        this.limits = limits;
        this.nanoClock = nanoClock;
    }

    GatewayLimits limits() {
        return limits;
    }

    long nanos() {
        return nanoClock.getAsLong();
    }

    /** Uploads in flight (started and not yet ended). */
    synchronized int inFlight() {
        return active.size();
    }

    /** Registers a new upload; the error to end it with if the gateway holds too many. */
    StatusRuntimeException start(UpdateReceiver upload) {
        synchronized (this) {
            if (active.size() < limits.uploadsInFlight()) {
                active.add(upload);
                return null;
            }
        }
        return LearnerStatus.busy(
                "the gateway holds "
                        + limits.uploadsInFlight()
                        + " uploads already (gateway.limits.uploads-in-flight); retry shortly",
                2_000);
    }

    /** Outcome of {@link #claim}: a refusal, or the older upload of the same key it replaces. */
    record Claim(StatusRuntimeException refused, UpdateReceiver replaced) {}

    /**
     * Binds an authenticated upload to its learner and key (round or task). An older upload of the
     * same key is replaced (the caller aborts it); past the learner's limit the upload is refused.
     */
    Claim claim(String learner, String key, UpdateReceiver upload) {
        synchronized (this) {
            Map<String, UpdateReceiver> mine =
                    byLearner.computeIfAbsent(learner, l -> new HashMap<>());
            UpdateReceiver older = mine.get(key);
            if (older == null && mine.size() >= limits.uploadsPerLearner()) {
                if (mine.isEmpty()) {
                    byLearner.remove(learner);
                }
                return new Claim(
                        LearnerStatus.busy(
                                "this learner has "
                                        + mine.size()
                                        + " uploads in flight already"
                                        + " (gateway.limits.uploads-per-learner); wait for"
                                        + " their answers",
                                5_000),
                        null);
            }
            mine.put(key, upload);
            return new Claim(null, older);
        }
    }

    /** The upload ended (answered, refused, cancelled or replaced); idempotent. */
    synchronized void finished(UpdateReceiver upload, String learner, String key) {
        active.remove(upload);
        if (learner != null) {
            Map<String, UpdateReceiver> mine = byLearner.get(learner);
            if (mine != null && mine.get(key) == upload) {
                mine.remove(key);
                if (mine.isEmpty()) {
                    byLearner.remove(learner);
                }
            }
        }
    }

    /** Ends every upload that overstayed its idle timeout or fell below the minimum rate. */
    void check() {
        long now = nanos();
        List<UpdateReceiver> snapshot;
        synchronized (this) {
            snapshot = new ArrayList<>(active);
        }
        for (UpdateReceiver u : snapshot) {
            u.checkTimeouts(now, limits);
        }
    }
}
