package org.metisfl.learner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.metisfl.learner.FakeGatewayFixture.shutdown;
import static org.metisfl.learner.FakeGatewayFixture.train;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyBundle;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.learner.FakeGateway.ReceivedUpdate;
import org.metisfl.learner.task.NamedTensor;
import org.metisfl.proto.v1.Encryption;
import org.metisfl.proto.v1.ModelHeader;
import org.metisfl.proto.v1.TensorSpec;

/**
 * A learner in a CKKS federation (shared-key mode) against a gateway that plays the controller
 * without any key: the test encrypts and sums with the crypto module's own API, independently of
 * the learner's code, and checks what crosses the wire both ways.
 */
class SecureAggregationLearnerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final String BACKEND = "metisfl-ckks";
    private static final String PRESET = "n13-q120";

    /** Two ciphertexts of 8,192 values per shard. */
    private static final int SHARD_SIZE = 16_384;

    @TempDir Path dir;

    @RegisterExtension final FakeGatewayFixture fixture = FakeGatewayFixture.timeout(TIMEOUT);

    private FakeGateway gateway;

    @Test
    void decryptsTheEncryptedWeightedSumIntoTheMeanAndUploadsAnUpdateOnlyTheKeyHolderCanRead()
            throws Exception {
        KeyBundle.generate(BACKEND, PRESET).write(dir);
        KeyBundle keys = KeyBundle.load(dir.resolve(KeyBundle.SECRET_FILE));
        gateway = fixture.start(1);
        gateway.encryption = federation(keys);
        // 18,170 values in four tensors: two shards (16,384 + 1,786), tensors cut across them.
        List<NamedTensor> a = model(1);
        List<NamedTensor> b = model(2);
        float[] flatA = flat(a);
        float[] flatB = flat(b);
        // The controller: Σ w·ct per ciphertext with w = 3 and 1, Σ w = 4 in the clear, no key.
        HeContext he = HeBackends.context(BACKEND, PRESET);
        List<byte[]> global = new ArrayList<>();
        for (int from = 0; from < flatA.length; from += SHARD_SIZE) {
            int to = Math.min(flatA.length, from + SHARD_SIZE);
            ShardCiphertexts ea =
                    ShardCiphertexts.decode(keys.encryptShard(Arrays.copyOfRange(flatA, from, to)));
            ShardCiphertexts eb =
                    ShardCiphertexts.decode(keys.encryptShard(Arrays.copyOfRange(flatB, from, to)));
            List<byte[]> sums = new ArrayList<>();
            for (int i = 0; i < ea.count(); i++) {
                CiphertextSum sum = he.newSum();
                sum.add(he.deserializeCiphertext(ea.ciphertexts().get(i)), 3);
                sum.add(he.deserializeCiphertext(eb.ciphertexts().get(i)), 1);
                sums.add(he.serialize(sum.result()));
            }
            global.add(new ShardCiphertexts(4, sums).encode());
        }
        serveEncrypted(gateway, specs(a), global, 1);
        FakeAdapter adapter = FakeAdapter.of(model(0));
        gateway.enqueue(train("t2", 2, 1), shutdown("done"));

        LearnerSummary summary =
                fixture.runToEnd(fixture.learner(adapter, options().keyBundle(keys).build()));

        assertThat(summary.roundsTrained()).isEqualTo(1);
        // What the adapter got: the weighted mean (3a + b) / 4, in plaintext.
        float[] received = flat(adapter.weightsSet.get(0));
        assertThat(adapter.weightsSet.get(0))
                .extracting(NamedTensor::name)
                .containsExactly("w1", "b1", "w2", "b2");
        for (int i = 0; i < flatA.length; i++) {
            assertThat((double) received[i])
                    .isCloseTo((3.0 * flatA[i] + flatB[i]) / 4, within(1e-6));
        }

        ReceivedUpdate update = gateway.updates.get(0);
        Encryption enc = update.header().getEncryption();
        assertThat(enc.getBackendId()).isEqualTo(BACKEND);
        assertThat(enc.getParameterHash()).isEqualTo(keys.parameterHash());
        assertThat(enc.getPreset()).isEqualTo(PRESET);
        assertThat(enc.getShardSize()).isEqualTo(SHARD_SIZE);
        assertThat(enc.getShardBytesCount()).isEqualTo(2);
        assertThat(update.header().getTensorsList()).isEqualTo(specs(a));
        // The receiving side: a key holder decrypts the update (weighted by its examples, as the
        // controller would weigh it, then divided again) into what the adapter trained.
        float[] expected = flat(FakeAdapter.plusOne(adapter.weightsSet.get(0)));
        float[] decrypted = new float[expected.length];
        int offset = 0;
        int at = 0;
        for (int s = 0; s < enc.getShardBytesCount(); s++) {
            int length = (int) enc.getShardBytes(s);
            ShardCiphertexts shard =
                    ShardCiphertexts.decode(update.data().substring(at, at + length).toByteArray());
            at += length;
            assertThat(shard.weightSum()).as("an update carries no weight sum").isZero();
            assertThat(shard.count()).isEqualTo(s == 0 ? 2 : 1);
            List<byte[]> weighted = new ArrayList<>();
            for (byte[] ct : shard.ciphertexts()) {
                CiphertextSum sum = he.newSum();
                sum.add(he.deserializeCiphertext(ct), FakeAdapter.TRAINING_EXAMPLES);
                weighted.add(he.serialize(sum.result()));
            }
            float[] values =
                    keys.decryptShard(
                            new ShardCiphertexts(FakeAdapter.TRAINING_EXAMPLES, weighted).encode());
            System.arraycopy(values, 0, decrypted, offset, values.length);
            offset += values.length;
        }
        assertThat(at).isEqualTo(update.data().size());
        assertThat(offset).isEqualTo(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) decrypted[i]).isCloseTo(expected[i], within(1e-6));
        }
    }

    @Test
    void refusesAtJoinAKeyBundleWithOtherParametersThanTheFederationsAndLeaves() throws Exception {
        gateway = fixture.start(1);
        gateway.encryption = federation(KeyBundle.generate(BACKEND, PRESET));
        KeyBundle other = KeyBundle.generate(BACKEND, "n13-q180");

        assertThatThrownBy(
                        () ->
                                fixture.runToEnd(
                                        fixture.learner(
                                                FakeAdapter.small(),
                                                options().keyBundle(other).build())))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining(
                        "aggregates with secure aggregation (backend metisfl-ckks, preset n13-q120")
                .hasMessageContaining("key bundle has other parameters (preset n13-q180")
                .hasMessageContaining("give it the federation's key bundle");
        assertThat(gateway.leaves).hasSize(1);
        assertThat(gateway.getModelCalls).hasValue(0);
    }

    @Test
    void refusesAtJoinAnotherKeyPairOfTheSameParametersWhenTheFederationNamesItsKey()
            throws Exception {
        KeyBundle federationKeys = KeyBundle.generate(BACKEND, PRESET);
        gateway = fixture.start(1);
        gateway.encryption =
                federation(federationKeys).toBuilder().setKeyId(federationKeys.keyId()).build();
        KeyBundle other = KeyBundle.generate(BACKEND, PRESET);

        assertThatThrownBy(
                        () ->
                                fixture.runToEnd(
                                        fixture.learner(
                                                FakeAdapter.small(),
                                                options().keyBundle(other).build())))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("under key " + federationKeys.keyId())
                .hasMessageContaining("this learner's key bundle is key " + other.keyId())
                .hasMessageContaining("could not decrypt the federation's models");
        assertThat(gateway.leaves).hasSize(1);
    }

    @Test
    void refusesAtJoinACkksFederationWhenItHasNoKeyBundle() throws Exception {
        gateway = fixture.start(1);
        gateway.encryption = federation(KeyBundle.generate(BACKEND, PRESET));

        assertThatThrownBy(
                        () ->
                                fixture.runToEnd(
                                        fixture.learner(FakeAdapter.small(), options().build())))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("but this learner has no key bundle")
                .hasMessageContaining("--ckks-key DIR");
        assertThat(gateway.leaves).hasSize(1);
    }

    @Test
    void refusesAtJoinAPlaintextFederationWhenItHoldsAKeyBundle() throws Exception {
        gateway = fixture.start(1);

        assertThatThrownBy(
                        () ->
                                fixture.runToEnd(
                                        fixture.learner(
                                                FakeAdapter.small(),
                                                options()
                                                        .keyBundle(
                                                                KeyBundle.generate(BACKEND, PRESET))
                                                        .build())))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("holds a CKKS key bundle")
                .hasMessageContaining("aggregates plaintext updates");
    }

    @Test
    void stopsWithAClearErrorWhenTheGlobalModelIsUnderAnotherKeyOfTheSameParameters()
            throws Exception {
        KeyBundle federationKeys = KeyBundle.generate(BACKEND, PRESET);
        KeyBundle otherKeys = KeyBundle.generate(BACKEND, PRESET);
        gateway = fixture.start(1);
        gateway.encryption = federation(federationKeys);
        List<NamedTensor> a = model(1);
        float[] flatA = flat(a);
        List<byte[]> global = new ArrayList<>();
        for (int from = 0; from < flatA.length; from += SHARD_SIZE) {
            ShardCiphertexts e =
                    ShardCiphertexts.decode(
                            federationKeys.encryptShard(
                                    Arrays.copyOfRange(
                                            flatA,
                                            from,
                                            Math.min(flatA.length, from + SHARD_SIZE))));
            global.add(new ShardCiphertexts(1, e.ciphertexts()).encode());
        }
        serveEncrypted(gateway, specs(a), global, 1);
        gateway.enqueue(train("t2", 2, 1), shutdown("done"));

        assertThatThrownBy(
                        () ->
                                fixture.runToEnd(
                                        fixture.learner(
                                                FakeAdapter.of(model(0)),
                                                options().keyBundle(otherKeys).build())))
                .isInstanceOf(LearnerException.class)
                .hasMessageContaining("could not decrypt the global model (version 1)")
                .hasMessageContaining("needs the same key bundle");
        assertThat(gateway.updates).isEmpty();
    }

    // -------------------------------------------------------------------------------------

    private static Encryption federation(KeyBundle keys) {
        return Encryption.newBuilder()
                .setBackendId(keys.backendId())
                .setParameterHash(keys.parameterHash())
                .setPreset(keys.preset())
                .setShardSize(SHARD_SIZE)
                .build();
    }

    private static void serveEncrypted(
            FakeGateway gateway, List<TensorSpec> specs, List<byte[]> shards, long version) {
        Encryption.Builder enc = gateway.encryption.toBuilder();
        ByteString data = ByteString.EMPTY;
        for (byte[] s : shards) {
            enc.addShardBytes(s.length);
            data = data.concat(UnsafeByteOperations.unsafeWrap(s));
        }
        gateway.encryptedModelData = data;
        gateway.encryptedModelHeader =
                ModelHeader.newBuilder()
                        .setModelVersion(version)
                        .addAllTensors(specs)
                        .setTotalBytes(data.size())
                        .setEncryption(enc)
                        .build();
    }

    /** Four tensors, 18,170 values in [-1, 1). */
    private static List<NamedTensor> model(long seed) {
        Random random = new Random(seed);
        List<NamedTensor> tensors = new ArrayList<>();
        long[][] shapes = {{100, 150}, {150}, {150, 20}, {20}};
        String[] names = {"w1", "b1", "w2", "b2"};
        for (int t = 0; t < shapes.length; t++) {
            int n = (int) (shapes[t].length == 1 ? shapes[t][0] : shapes[t][0] * shapes[t][1]);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = random.nextFloat() * 2 - 1;
            }
            tensors.add(new NamedTensor(names[t], shapes[t], v));
        }
        return tensors;
    }

    private static List<TensorSpec> specs(List<NamedTensor> tensors) {
        return org.metisfl.learner.internal.TensorCodec.specs(tensors);
    }

    private static float[] flat(List<NamedTensor> tensors) {
        int n = tensors.stream().mapToInt(NamedTensor::size).sum();
        float[] out = new float[n];
        int at = 0;
        for (NamedTensor t : tensors) {
            System.arraycopy(t.values(), 0, out, at, t.size());
            at += t.size();
        }
        return out;
    }

    private static LearnerOptions.Builder options() {
        return FakeGatewayFixture.fastOptions()
                .callTimeout(Duration.ofSeconds(10))
                .transferTimeout(Duration.ofSeconds(30))
                .maxReconnectAttempts(3);
    }
}
