package org.metisfl.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.metisfl.flink.DecryptedModels.assertClose;
import static org.metisfl.flink.DecryptedModels.fedAvg;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.config.FederationConfig;
import org.metisfl.flink.model.ModelCodec;
import org.metisfl.flink.model.RoundResult;
import org.metisfl.flink.model.RoundResults;
import org.metisfl.flink.model.TensorSpecInfo;
import org.metisfl.flink.testutil.CkksTestLearner;
import org.metisfl.flink.testutil.CkksTestLearner.EncryptedModel;
import org.metisfl.flink.testutil.FederationHarness;
import org.metisfl.proto.v1.SubmitUpdateResponse;
import org.metisfl.proto.v1.TensorSpec;
import org.metisfl.simulator.RawLearner;

/**
 * The CKKS secure sum on the model path, with a failure: two aggregator subtasks send their
 * encrypted global shards (three ciphertext shards) straight to the gateway, on a MiniCluster with
 * RocksDB and real gRPC learners that encrypt with a shared key bundle. The task manager is
 * terminated after round 2's shards reached the gateway and before the checkpoint that would
 * acknowledge its updates: the restored job serves version 1 again (the aggregators' checkpointed
 * ciphertexts), the learners send round 2 again, and version 2 decrypts to the failure-free
 * weighted mean computed in the test.
 */
class CkksModelPathFailoverITCase {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int SHARD = 8192; // n13-q120: one ciphertext per shard
    private static final int N = 2 * SHARD + 3616; // three shards, the last one short
    private static final List<TensorSpec> SPECS = List.of(RawLearner.spec("w", N));
    private static final int LEARNERS = 3;

    @TempDir Path work;

    private static float[] update(int learner, long round) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (learner + 1) * (float) Math.sin(i * 0.013 + round) + 0.1f * learner;
        }
        return v;
    }

    private static long examples(int learner) {
        return 10L * (learner + 1);
    }

    private static float[] weightedMean(long round) {
        List<float[]> ups = new ArrayList<>();
        List<Long> weights = new ArrayList<>();
        for (int l = 0; l < LEARNERS; l++) {
            ups.add(update(l, round));
            weights.add(examples(l));
        }
        return fedAvg(ups, weights);
    }

    @Test
    void aTaskManagerLostAfterAnEncryptedRoundReachedTheGatewayGivesTheFailureFreeModel()
            throws Exception {
        Path keyDir = work.resolve("keys");
        KeyBundle.generate("metisfl-ckks", "n13-q120").write(keyDir);
        KeyBundle keys = KeyBundle.load(keyDir.resolve(KeyBundle.SECRET_FILE));
        float[] initial = update(7, 0);
        Path modelFile = work.resolve("initial.model");
        ModelCodec.writeModelFile(
                modelFile, List.of(new TensorSpecInfo("w", new long[] {N})), initial);

        int port = FederationHarness.freePorts(1);
        Map<String, String> s = new HashMap<>();
        s.put("gateway.port", Integer.toString(port));
        s.put("federation.results-file", work.resolve("results.jsonl").toString());
        s.put("security.insecure", "true");
        s.put("security.admission", "open");
        s.put("secure-aggregation", "ckks");
        s.put("secure-aggregation.preset", "n13-q120");
        s.put("secure-aggregation.public-key", keyDir.resolve(KeyBundle.PUBLIC_FILE).toString());
        s.put("aggregation.shard-size", Integer.toString(SHARD));
        // Long enough that the kill below falls between round 2's close and its checkpoint.
        s.put("job.checkpoint-interval", "5 s");
        s.put("job.parallelism", "2");
        s.put("job.state-backend", "rocksdb");
        s.put("federation.rounds", "3");
        s.put("federation.min-learners", Integer.toString(LEARNERS));
        s.put("federation.initial-model", modelFile.toString());
        s.put("evaluation.enabled", "false");
        FederationConfig config = FederationConfig.of(s);
        assertThat(FederationPipeline.modelAtShards(config)).isTrue();

        List<CkksTestLearner> learners = new ArrayList<>();
        ConcurrentUploads<CkksTestLearner> uploads =
                new ConcurrentUploads<>(
                        learners,
                        LEARNERS,
                        (l, i, round) -> l.submit(round, SPECS, update(i, round), examples(i)));
        try (FailoverCluster cluster = FailoverCluster.submit(config, work)) {

            for (int i = 0; i < LEARNERS; i++) {
                RawLearner raw = new RawLearner("127.0.0.1", port);
                RawLearnerWaits.joinWhenReady(raw, "learner-" + i, examples(i), WAIT);
                learners.add(new CkksTestLearner(raw, keys, port, SHARD));
            }
            List<RawLearner> raws = new ArrayList<>();
            for (CkksTestLearner l : learners) {
                l.raw().openTaskStream();
                raws.add(l.raw());
            }

            // Round 1, acknowledged (so checkpointed); then a checkpoint after its close, so the
            // restore below holds version 1's ciphertexts at the aggregators.
            RawLearnerWaits.awaitTrain(raws, 1, WAIT);
            uploads.sendAccepted(1, Duration.ofSeconds(90), 0, 1, 2);
            RawLearnerWaits.awaitTrain(raws, 2, WAIT);
            EncryptedModel v1 = learners.get(0).download();
            assertThat(v1.header().getModelVersion()).isEqualTo(1);
            assertThat(v1.header().getEncryption().getShardBytesCount()).isEqualTo(3);
            assertThat(ShardCiphertexts.decode(v1.shards().get(1)).weightSum()).isEqualTo(60.0);
            assertClose(learners.get(0).decrypt(v1), weightedMean(1), 5);
            Thread.sleep(5_500);

            // Round 2 closes and its shards reach the gateway (round 3's task is out); the task
            // manager dies before the checkpoint that would acknowledge round 2's updates.
            List<CompletableFuture<SubmitUpdateResponse>> pending = uploads.submit(2, 0, 1, 2);
            RawLearnerWaits.awaitTrain(raws.subList(0, 1), 3, WAIT);
            EncryptedModel v2 = learners.get(0).download();
            assertThat(v2.header().getModelVersion()).isEqualTo(2);
            assertClose(learners.get(0).decrypt(v2), weightedMean(2), 5);
            cluster.replaceTaskManager();

            List<Integer> again = ConcurrentUploads.lost(pending, Duration.ofSeconds(90));
            // The restored job serves the checkpoint's version 1 again (its ciphertext shards
            // from the aggregators' state) with round 2's task; the learners send round 2 again.
            for (RawLearner l : raws) {
                RawLearnerWaits.reopenWhenReady(l, 2, WAIT);
            }
            EncryptedModel restored = learners.get(0).download();
            assertThat(restored.header().getModelVersion()).isEqualTo(1);
            assertThat(restored.bytes()).isEqualTo(v1.bytes());
            uploads.sendAgain(2, Duration.ofSeconds(90), again);
            RawLearnerWaits.awaitTrain(raws.subList(0, 1), 3, WAIT);
            EncryptedModel v2Again = learners.get(0).download();
            assertThat(v2Again.header().getModelVersion()).isEqualTo(2);
            assertThat(ShardCiphertexts.decode(v2Again.shards().get(0)).weightSum())
                    .isEqualTo(60.0);
            assertClose(learners.get(0).decrypt(v2Again), weightedMean(2), 5);
            List<RoundResult> results = RoundResults.read(Path.of(config.resultsFile()));
            RoundResult round2 =
                    results.stream().filter(r -> r.round == 2).findFirst().orElseThrow();
            assertThat(round2.contributors).hasSize(LEARNERS);
            assertThat(again).as("updates sent again after the failure").isNotEmpty();
        } finally {
            for (CkksTestLearner l : learners) {
                l.close();
            }
            uploads.close();
        }
    }
}
