package org.metisfl.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the CLI remembers of the jobs it submitted (one JSON file per job in {@code
 * work/cli/jobs/}): the federation file and settings, where results go and where the learner
 * gateways listen. Flink does not keep a job's program arguments, so {@code status} and {@code
 * learners} read them from here.
 */
public final class JobRecords {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    /** One submitted job (a Gson POJO). */
    public static final class JobRecord {
        public String jobId;
        public String cluster;
        public String federation;
        public String federationFile;
        public String resultsFile;
        public int rounds;
        public List<String> gateways = new ArrayList<>();
        public long submittedAtMs;
        public String resumedFrom;
        public Map<String, String> settings;

        /** The {@code --set} arguments as given (for the resume hint). */
        public List<String> overrides = new ArrayList<>();

        public JobRecord() {}
    }

    private final Path dir;

    public JobRecords(Path stateDir) {
        this.dir = stateDir.resolve("jobs");
    }

    /** Saves a record; a failure to save is reported but does not fail the command. */
    public Optional<String> save(JobRecord record) {
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(record.jobId + ".json.tmp");
            Files.writeString(tmp, GSON.toJson(record), StandardCharsets.UTF_8);
            Files.move(
                    tmp,
                    dir.resolve(record.jobId + ".json"),
                    StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("could not save the job record in " + dir + ": " + e.getMessage());
        }
    }

    /** The record of a job, if this CLI (with this state folder) submitted it. */
    public Optional<JobRecord> find(String jobId) {
        Path f = dir.resolve(jobId + ".json");
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        try {
            return Optional.ofNullable(
                    GSON.fromJson(Files.readString(f, StandardCharsets.UTF_8), JobRecord.class));
        } catch (IOException | JsonParseException e) {
            return Optional.empty();
        }
    }
}
