package org.metisfl.bench.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.ckks.JavaCkksBackend;
import org.metisfl.crypto.ckks.RandomSource;
import org.metisfl.crypto.kernel.RnsKernelsLoader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CKKS secure aggregation on one update of {@code values} float parameters: a learner's encryption
 * (public key, or compact secret key), the controller's work per update (weight and add into the
 * running sum; from wire bytes: deserialize, weight, add), and a learner's decryption. Java against
 * native kernels (same ciphertexts). "GB/s" in the summary is float32 bytes (4 x values) per op.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class CkksBenchmark {

    @Param({"1048576"})
    public int values;

    @Param({"java", "native"})
    public String kernels;

    @Param({"n13-q120"})
    public String preset;

    private HeContext he;
    private KeyPair keys;
    private float[] update;
    private List<Ciphertext> fresh;
    private List<Ciphertext> sum;
    private List<byte[]> wire;
    private List<CiphertextSum> sums;

    @Setup(Level.Trial)
    public void setUp() {
        he =
                JavaCkksBackend.create(
                        CkksParameters.preset(preset),
                        RnsKernelsLoader.choose(kernels),
                        RandomSource.secure());
        keys = he.generateKeys();
        update = new float[values];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < values; i++) {
            update[i] = (float) (r.nextDouble() * 2 - 1);
        }
        fresh = he.encrypt(keys.secretKey(), update);
        wire = new ArrayList<>();
        sum = new ArrayList<>();
        sums = new ArrayList<>();
        for (Ciphertext c : fresh) {
            wire.add(he.serialize(c));
            sum.add(he.multiply(c, 0.5));
            CiphertextSum s = he.newSum();
            s.add(c, 0.5);
            sums.add(s);
        }
    }

    @Benchmark
    public List<Ciphertext> encryptPublicKey() {
        return he.encrypt(keys.publicKey(), update);
    }

    @Benchmark
    public List<Ciphertext> encryptSecretKeyCompact() {
        return he.encrypt(keys.secretKey(), update);
    }

    /** Encrypt (compact) and serialize: what a learner does before an upload. */
    @Benchmark
    public int encryptAndSerialize() {
        int bytes = 0;
        for (Ciphertext c : he.encrypt(keys.secretKey(), update)) {
            bytes += he.serialize(c).length;
        }
        return bytes;
    }

    /** Controller, per update: sum += w * ct, for every ciphertext of the update. */
    @Benchmark
    public List<Ciphertext> weightAndAdd() {
        List<Ciphertext> out = new ArrayList<>(fresh.size());
        for (int i = 0; i < fresh.size(); i++) {
            out.add(he.add(sum.get(i), he.multiply(fresh.get(i), 0.25)));
        }
        return out;
    }

    /** Controller, per update, in place: sum += w * ct through a CiphertextSum per position. */
    @Benchmark
    public List<CiphertextSum> accumulateInPlace() {
        for (int i = 0; i < fresh.size(); i++) {
            sums.get(i).add(fresh.get(i), 0.25);
        }
        return sums;
    }

    /** Controller, per update, from the wire into the running sums: deserialize, weight, add. */
    @Benchmark
    public List<CiphertextSum> deserializeAndAccumulate() {
        for (int i = 0; i < wire.size(); i++) {
            sums.get(i).add(he.deserializeCiphertext(wire.get(i)), 0.25);
        }
        return sums;
    }

    /** Controller, per update, from the wire: deserialize, weight, add. */
    @Benchmark
    public List<Ciphertext> deserializeWeightAndAdd() {
        List<Ciphertext> out = new ArrayList<>(wire.size());
        for (int i = 0; i < wire.size(); i++) {
            Ciphertext c = he.deserializeCiphertext(wire.get(i));
            out.add(he.add(sum.get(i), he.multiply(c, 0.25)));
        }
        return out;
    }

    /** Plain addition of two encrypted updates. */
    @Benchmark
    public List<Ciphertext> add() {
        List<Ciphertext> out = new ArrayList<>(sum.size());
        for (int i = 0; i < sum.size(); i++) {
            out.add(he.add(sum.get(i), sum.get(i)));
        }
        return out;
    }

    @Benchmark
    public double[] decrypt() {
        return he.decrypt(keys.secretKey(), sum);
    }
}
