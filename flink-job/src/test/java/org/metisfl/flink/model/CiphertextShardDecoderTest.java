package org.metisfl.flink.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.HeBackends;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ShardCiphertexts;
import org.metisfl.flink.aggregation.rule.SecureSum;
import org.metisfl.flink.model.CiphertextShardDecoder.Reason;
import org.metisfl.flink.model.CiphertextShardDecoder.Refusal;

/** The gateway's side of the encrypted wire: a learner's bytes in, checked payloads out. */
class CiphertextShardDecoderTest {

    private static final HeContext HE = HeBackends.context(HeBackends.DEFAULT_BACKEND, "n13-q120");
    private static final KeyPair KEYS = HE.generateKeys();
    private static final String HASH = HexFormat.of().formatHex(HE.parameterHash());
    private static final int SHARD = 2 * HE.valuesPerCiphertext();

    /** Two shards: one of two full ciphertexts, one of one partial ciphertext. */
    private static final int TOTAL = SHARD + 300;

    private static final long MAX = 64L << 20;

    /** What a learner does: cut the model into shards, encrypt each, encode each. */
    static List<byte[]> encryptShards(HeContext he, KeyPair keys, float[] model, int shardSize) {
        List<byte[]> shards = new ArrayList<>();
        for (int from = 0; from < model.length; from += shardSize) {
            float[] part =
                    Arrays.copyOfRange(model, from, Math.min(model.length, from + shardSize));
            List<byte[]> cts = new ArrayList<>();
            for (Ciphertext c : he.encrypt(keys.secretKey(), part)) {
                cts.add(he.serialize(c));
            }
            shards.add(ShardCiphertexts.update(cts).encode());
        }
        return shards;
    }

    static float[] model(long seed) {
        Random r = new Random(seed);
        float[] m = new float[TOTAL];
        for (int i = 0; i < m.length; i++) {
            m[i] = (float) r.nextGaussian();
        }
        return m;
    }

    static List<Long> sizes(List<byte[]> shards) {
        return shards.stream().map(b -> (long) b.length).toList();
    }

    static Payload[] upload(List<byte[]> shards, int chunk) {
        CiphertextShardDecoder d =
                CiphertextShardDecoder.of(
                        HE, TOTAL, SHARD, HE.backendId(), HASH, sizes(shards), MAX);
        ByteBuffer all = ByteBuffer.allocate((int) d.totalBytes());
        shards.forEach(all::put);
        all.flip();
        while (all.hasRemaining()) {
            ByteBuffer part = all.slice();
            part.limit(Math.min(chunk, all.remaining()));
            d.append(part);
            all.position(all.position() + part.limit());
        }
        assertThat(d.isComplete()).isTrue();
        return d.payloads();
    }

    @Test
    void chunksCutAnywhereBecomeShardPayloadsThatTheSecureSumAggregates() {
        float[] a = model(1);
        float[] b = model(2);
        Payload[] pa = upload(encryptShards(HE, KEYS, a, SHARD), 65_537);
        Payload[] pb = upload(encryptShards(HE, KEYS, b, SHARD), 1_000_003);
        assertThat(pa).hasSize(2);
        assertThat(pa[0].size()).isEqualTo(SHARD);
        assertThat(pa[1].size()).isEqualTo(300);

        SecureSum rule = new SecureSum(HE.backendId(), "n13-q120");
        for (int s = 0; s < 2; s++) {
            SecureSum.Sums acc = rule.createAccumulator();
            rule.add(acc, "a", pa[s], 30);
            rule.add(acc, "b", pb[s], 10);
            ShardCiphertexts global = ShardCiphertexts.decode(rule.result(acc).ciphertext());
            List<Ciphertext> cts = new ArrayList<>();
            global.ciphertexts().forEach(c -> cts.add(HE.deserializeCiphertext(c)));
            double[] mean = HE.decrypt(KEYS.secretKey(), cts);
            for (int j = 0; j < mean.length; j++) {
                double want = (30.0 * a[s * SHARD + j] + 10.0 * b[s * SHARD + j]) / 40;
                assertThat(Math.abs(mean[j] / global.weightSum() - want)).isLessThan(1e-6);
            }
        }
    }

    @Test
    void refusesAForeignBackendOrOtherParametersFromTheHeader() {
        List<Long> sizes = sizes(encryptShards(HE, KEYS, model(3), SHARD));
        assertRefused(
                () -> CiphertextShardDecoder.of(HE, TOTAL, SHARD, "openfhe-ckks", HASH, sizes, MAX),
                Reason.FOREIGN_BACKEND,
                "openfhe-ckks");
        HeContext other = HeBackends.context(HeBackends.DEFAULT_BACKEND, "n13-q180");
        String otherHash = HexFormat.of().formatHex(other.parameterHash());
        assertRefused(
                () ->
                        CiphertextShardDecoder.of(
                                HE, TOTAL, SHARD, HE.backendId(), otherHash, sizes, MAX),
                Reason.WRONG_PARAMETER_HASH,
                "key bundle");
        assertRefused(
                () ->
                        CiphertextShardDecoder.of(
                                HE, TOTAL, SHARD, HE.backendId(), HASH, sizes.subList(0, 1), MAX),
                Reason.WRONG_CIPHERTEXT_COUNT,
                "announces 1 encrypted shards");
    }

    @Test
    void refusesCiphertextsThatLieAboutTheirParametersOrCount() {
        // Ciphertexts of other parameters behind the federation's hash in the header.
        HeContext other = HeBackends.context(HeBackends.DEFAULT_BACKEND, "n13-q180");
        List<byte[]> foreign = encryptShards(other, other.generateKeys(), model(4), SHARD);
        assertRefused(() -> upload(foreign, 1 << 20), Reason.WRONG_PARAMETER_HASH, "shard 0");

        // Shards cut at another size: shard 0 holds one ciphertext where the model needs two.
        List<byte[]> cut = encryptShards(HE, KEYS, model(5), HE.valuesPerCiphertext());
        List<byte[]> twoShards = List.of(cut.get(0), cut.get(2));
        assertRefused(
                () -> upload(twoShards, 1 << 20),
                Reason.WRONG_CIPHERTEXT_COUNT,
                "shard 0 holds 1 ciphertexts");

        // Two keys in one update.
        List<byte[]> mine = encryptShards(HE, KEYS, model(6), SHARD);
        List<byte[]> theirs = encryptShards(HE, HE.generateKeys(), model(6), SHARD);
        assertRefused(
                () -> upload(List.of(mine.get(0), theirs.get(1)), 1 << 20),
                Reason.MIXED_KEYS,
                "shard 1");
    }

    @Test
    void refusesAnotherKeyThanTheFederationsWhenItsKeyIdIsKnown() {
        List<byte[]> theirs = encryptShards(HE, HE.generateKeys(), model(8), SHARD);
        String federationKey = HexFormat.of().formatHex(KEYS.secretKey().keyId());
        CiphertextShardDecoder d =
                CiphertextShardDecoder.of(
                                HE, TOTAL, SHARD, HE.backendId(), HASH, sizes(theirs), MAX)
                        .expectingKey(federationKey);
        theirs.forEach(b -> d.append(ByteBuffer.wrap(b)));
        assertRefused(d::payloads, Reason.WRONG_KEY, "the federation's key is " + federationKey);

        List<byte[]> mine = encryptShards(HE, KEYS, model(8), SHARD);
        CiphertextShardDecoder ok =
                CiphertextShardDecoder.of(HE, TOTAL, SHARD, HE.backendId(), HASH, sizes(mine), MAX)
                        .expectingKey(federationKey);
        mine.forEach(b -> ok.append(ByteBuffer.wrap(b)));
        assertThat(ok.payloads()).hasSize(2);
    }

    @Test
    void refusesMalformedBytesWithAnInvalidArgumentStatusNamingTheShard() {
        List<byte[]> shards = new ArrayList<>(encryptShards(HE, KEYS, model(7), SHARD));
        byte[] bad = shards.get(1).clone();
        bad[bad.length - 1] ^= (byte) 0xff; // the last residue's packed bits
        bad[20] = 'X'; // inside the first ciphertext's envelope magic
        shards.set(1, bad);
        Refusal r =
                assertRefused(() -> upload(shards, 4096), Reason.MALFORMED_CIPHERTEXT, "shard 1");
        assertThat(r.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(r.status().getDescription()).startsWith("malformed ciphertext: shard 1");

        List<byte[]> truncated = new ArrayList<>(encryptShards(HE, KEYS, model(8), SHARD));
        truncated.set(0, Arrays.copyOf(truncated.get(0), 100));
        assertRefused(() -> upload(truncated, 4096), Reason.MALFORMED_CIPHERTEXT, "shard 0");
    }

    private static Refusal assertRefused(Runnable call, Reason reason, String mentions) {
        try {
            call.run();
        } catch (Refusal r) {
            assertThat(r.reason()).isEqualTo(reason);
            assertThat(r.getMessage()).contains(mentions);
            return r;
        }
        throw new AssertionError("not refused: expected " + reason);
    }

    @Test
    void moreBytesThanAnnouncedAreAProgrammingErrorTheReceiverChecksFirst() {
        List<byte[]> shards = encryptShards(HE, KEYS, model(9), SHARD);
        CiphertextShardDecoder d =
                CiphertextShardDecoder.of(
                        HE, TOTAL, SHARD, HE.backendId(), HASH, sizes(shards), MAX);
        assertThatThrownBy(() -> d.append(ByteBuffer.allocate((int) d.totalBytes() + 1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertRefused(
                () ->
                        CiphertextShardDecoder.of(
                                HE, TOTAL, SHARD, HE.backendId(), HASH, sizes(shards), 1000),
                Reason.MALFORMED_CIPHERTEXT,
                "at most 1000");
    }
}
