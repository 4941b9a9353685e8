package org.metisfl.flink.connector.store;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.TensorSpecInfo;

/**
 * A federation's global model versions on a Flink file system ({@code file://}, {@code s3://},
 * {@code hdfs://}, ...), in {@code <store>/<federation>/}:
 *
 * <pre>
 *   v000000000005.model         the model: a serialized metisfl.v1.Model (federation.initial-model)
 *   v000000000005.ckks          instead, for a CKKS federation: the shards' ciphertexts, as served
 *   v000000000005.json          its metadata ({@link StoredModel})
 *   v000000000005.result.json   its round's result (contributors, metrics, timing), once known
 *   _pending/                   files written and not yet published
 * </pre>
 *
 * <p>Writers write into {@code _pending/} under a unique name; {@link #commit} publishes by
 * renaming (the model first, its metadata last: a version is listed once its {@code .json} exists).
 * Committing is idempotent: a version already published is not published again, so a commit retried
 * after a failure, or a version written again after a restore, is stored once.
 */
public final class ModelStore {
    private static final Pattern VERSION_JSON = Pattern.compile("v(\\d{12})\\.json");
    private static final Pattern RESULT_JSON = Pattern.compile("v(\\d{12})\\.result\\.json");
    private static final Pattern PENDING = Pattern.compile("v(\\d{12})(\\.result)?\\.([0-9a-f-]+)");
    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

    /** The extension of an encrypted version's ciphertexts file. */
    public static final String CIPHERTEXTS = ".ckks";

    private final Path dir;
    private final Path pending;
    private final FileSystem fs;

    private ModelStore(Path dir) throws IOException {
        this.dir = dir;
        this.pending = new Path(dir, "_pending");
        this.fs = dir.getFileSystem();
    }

    /** The store of {@code federation} under {@code storeUri}. */
    public static ModelStore open(String storeUri, String federation) throws IOException {
        if (federation.isBlank() || federation.contains("/")) {
            throw new IllegalArgumentException(
                    "federation name '" + federation + "' cannot name a store directory");
        }
        return new ModelStore(new Path(new Path(storeUri), federation));
    }

    public Path directory() {
        return dir;
    }

    static String base(long version) {
        return String.format("v%012d", version);
    }

    /** Writes a model version into {@code _pending/}; returns the name to {@link #commit}. */
    public String writePending(StoredModel meta, List<TensorSpecInfo> tensors, float[] values)
            throws IOException {
        fs.mkdirs(pending);
        String name = base(meta.version) + "." + UUID.randomUUID();
        write(new Path(pending, name + ".model"), ModelCodec.modelFileBytes(tensors, values));
        write(
                new Path(pending, name + ".json"),
                GSON.toJson(meta).getBytes(StandardCharsets.UTF_8));
        return name;
    }

    /**
     * Writes an encrypted model version into {@code _pending/}: {@code ciphertexts} are the shards'
     * ciphertexts exactly as learners receive them ({@code meta.encryption} says how); returns the
     * name to {@link #commit}.
     */
    public String writePendingEncrypted(StoredModel meta, byte[] ciphertexts) throws IOException {
        if (meta.encryption == null || meta.encryption.totalBytes() != ciphertexts.length) {
            throw new IllegalArgumentException(
                    "an encrypted version needs its encryption metadata, shard bytes summing to "
                            + ciphertexts.length);
        }
        fs.mkdirs(pending);
        String name = base(meta.version) + "." + UUID.randomUUID();
        write(new Path(pending, name + CIPHERTEXTS), ciphertexts);
        write(
                new Path(pending, name + ".json"),
                GSON.toJson(meta).getBytes(StandardCharsets.UTF_8));
        return name;
    }

    /** Writes a round's result into {@code _pending/}; returns the name to {@link #commit}. */
    public String writePendingResult(RoundResult r) throws IOException {
        fs.mkdirs(pending);
        String name = base(r.round) + ".result." + UUID.randomUUID();
        write(new Path(pending, name + ".json"), GSON.toJson(r).getBytes(StandardCharsets.UTF_8));
        return name;
    }

    /**
     * Publishes what {@link #writePending} or {@link #writePendingResult} wrote under {@code name};
     * true if it was published now, false if that version (or result) was published already or the
     * pending files are gone (published by an earlier attempt of this commit).
     */
    public boolean commit(String name) throws IOException {
        Matcher m = PENDING.matcher(name);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a pending model store entry: " + name);
        }
        String base = "v" + m.group(1);
        boolean result = m.group(2) != null;
        Path json = new Path(pending, name + ".json");
        Path finalJson = new Path(dir, base + (result ? ".result.json" : ".json"));
        if (fs.exists(finalJson) || !fs.exists(json)) {
            delete(new Path(pending, name + ".model"));
            delete(new Path(pending, name + CIPHERTEXTS));
            delete(json);
            return false;
        }
        if (!result) {
            // A model whose metadata never got published (an aborted commit).
            delete(new Path(dir, base + ".model"));
            delete(new Path(dir, base + CIPHERTEXTS));
            String ext = fs.exists(new Path(pending, name + CIPHERTEXTS)) ? CIPHERTEXTS : ".model";
            Path model = new Path(pending, name + ext);
            Path finalModel = new Path(dir, base + ext);
            if (!fs.rename(model, finalModel)) {
                throw new IOException("cannot rename " + model + " to " + finalModel);
            }
        }
        if (!fs.rename(json, finalJson)) {
            throw new IOException("cannot rename " + json + " to " + finalJson);
        }
        return true;
    }

    /** Deletes all but the newest {@code keepLast} versions (0: keeps all); returns how many. */
    public int retain(int keepLast) throws IOException {
        if (keepLast <= 0) {
            return 0;
        }
        List<Long> versions = versions();
        int deleted = 0;
        for (int i = 0; i < versions.size() - keepLast; i++) {
            String base = base(versions.get(i));
            // The metadata first: a listed version always has its model.
            delete(new Path(dir, base + ".json"));
            delete(new Path(dir, base + ".model"));
            delete(new Path(dir, base + CIPHERTEXTS));
            delete(new Path(dir, base + ".result.json"));
            deleted++;
        }
        if (versions.size() > keepLast) {
            // Results of deleted versions that arrived after their version was deleted.
            long oldestKept = versions.get(versions.size() - keepLast);
            for (FileStatus f : fs.listStatus(dir)) {
                Matcher m = RESULT_JSON.matcher(f.getPath().getName());
                if (m.matches() && Long.parseLong(m.group(1)) < oldestKept) {
                    delete(f.getPath());
                }
            }
        }
        return deleted;
    }

    /**
     * Moves this federation's directory aside, to {@code <federation>.<suffix>} next to it (a new
     * run of a federation of the same name starts with an empty store); returns where it went.
     */
    public Path archive(String suffix) throws IOException {
        Path target = new Path(dir.getParent(), dir.getName() + "." + suffix);
        if (!fs.rename(dir, target)) {
            throw new IOException("cannot move the earlier run's models " + dir + " to " + target);
        }
        return target;
    }

    /** The published versions, oldest first. */
    public List<Long> versions() throws IOException {
        List<Long> versions = new ArrayList<>();
        if (!fs.exists(dir)) {
            return versions;
        }
        FileStatus[] files = fs.listStatus(dir);
        for (FileStatus f : files == null ? new FileStatus[0] : files) {
            Matcher m = VERSION_JSON.matcher(f.getPath().getName());
            if (m.matches()) {
                versions.add(Long.parseLong(m.group(1)));
            }
        }
        versions.sort(Long::compare);
        return versions;
    }

    /** Every published version's metadata with its round's result, if known; oldest first. */
    public List<StoredModel> list() throws IOException {
        List<StoredModel> all = new ArrayList<>();
        for (long v : versions()) {
            all.add(metadata(v));
        }
        return all;
    }

    /** A published version's metadata, with its round's result if known. */
    public StoredModel metadata(long version) throws IOException {
        Path json = new Path(dir, base(version) + ".json");
        if (!fs.exists(json)) {
            throw new IOException(
                    "model version " + version + " is not in the store " + dir + versionsHint());
        }
        StoredModel meta = GSON.fromJson(readString(json), StoredModel.class);
        Path result = new Path(dir, base(version) + ".result.json");
        if (fs.exists(result)) {
            RoundResult r = GSON.fromJson(readString(result), RoundResult.class);
            meta.contributors = r.contributors;
            meta.participants = r.participants;
            meta.roundStartedAtMs = r.startedAtMs;
            meta.roundClosedAtMs = r.closedAtMs;
            meta.roundTimeMs = r.roundTimeMs;
            meta.trainMetrics = r.trainMetrics;
            meta.evalMetrics = r.evalMetrics;
        }
        return meta;
    }

    /**
     * The bytes of a published version's model file (a serialized metisfl.v1.Model).
     *
     * @throws EncryptedVersionException for an encrypted version (read {@link #ciphertexts})
     */
    public byte[] modelFileBytes(long version) throws IOException {
        StoredModel meta = metadata(version);
        if (meta.encryption != null) {
            throw new EncryptedVersionException(version, meta.encryption);
        }
        try (InputStream in = fs.open(new Path(dir, base(version) + ".model"))) {
            return in.readAllBytes();
        }
    }

    /**
     * An encrypted version's ciphertexts, exactly as learners receive them (the shards' encodings,
     * concatenated; {@link StoredModel#encryption} gives their lengths).
     *
     * @throws IOException if the version is not in the store or is not encrypted
     */
    public byte[] ciphertexts(long version) throws IOException {
        StoredModel meta = metadata(version);
        if (meta.encryption == null) {
            throw new IOException(
                    "model version " + version + " is not encrypted: read its values instead");
        }
        return readBytes(ciphertextFile(version));
    }

    /** Where an encrypted version's ciphertexts are (whether or not the version exists). */
    public Path ciphertextFile(long version) {
        return new Path(dir, base(version) + CIPHERTEXTS);
    }

    /** A published version's model. */
    public ModelCodec.LoadedModel read(long version) throws IOException {
        byte[] bytes = modelFileBytes(version);
        return ModelCodec.readModel(new ByteArrayInputStream(bytes), base(version) + ".model");
    }

    /** Serializes a stored model's metadata as the store does. */
    public static String toJson(Object o) {
        return GSON.toJson(o);
    }

    private String versionsHint() {
        try {
            List<Long> v = versions();
            return v.isEmpty() ? " (it holds no version)" : " (it holds " + v + ")";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void write(Path file, byte[] bytes) throws IOException {
        try (OutputStream out = fs.create(file, FileSystem.WriteMode.OVERWRITE)) {
            out.write(bytes);
        }
    }

    private byte[] readBytes(Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return in.readAllBytes();
        }
    }

    private String readString(Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private void delete(Path file) throws IOException {
        if (fs.exists(file)) {
            fs.delete(file, false);
        }
    }
}
