package org.metisfl.crypto.ckks;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Optional;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CiphertextSum;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.SecretKey;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.kernel.ModArith;
import org.metisfl.crypto.kernel.RnsKernels;

/**
 * RNS-CKKS for aggregation, in Java: encryption under a public key or (compact) under the secret
 * key, addition, multiplication by a plaintext scalar, decryption. No relinearisation, rotation or
 * bootstrapping: aggregation never multiplies two ciphertexts.
 *
 * <p>Hot loops go through {@link RnsKernels} (pure Java, or native when {@code metisfl-native}
 * loads); both give bit-identical ciphertexts.
 */
public final class JavaCkksContext implements HeContext {

    public static final String BACKEND_ID = "metisfl-ckks";

    /** Bits of the modulus kept free above the scale for the values themselves. */
    static final int MIN_HEADROOM_BITS = 20;

    private static final int FLAG_COMPACT = 1;

    final CkksParameters params;
    final RnsBasis basis;
    final CkksEncoder encoder;
    final RnsKernels kernels;
    final RandomSource random;
    final byte[] parameterHash;
    final double scale;
    private final double weightScale;
    private final JavaCkksThreshold threshold;
    final int n;
    final int primeCount;

    JavaCkksContext(CkksParameters params, RnsKernels kernels, RandomSource random) {
        this.params = params;
        this.kernels = kernels;
        this.random = random;
        this.n = params.ringDimension();
        this.primeCount = params.primeCount();
        this.basis = new RnsBasis(n, params.primeBits());
        this.encoder = new CkksEncoder(n);
        this.scale = Math.scalb(1.0, params.scaleBits());
        this.weightScale = Math.scalb(1.0, params.weightScaleBits());
        this.parameterHash = computeParameterHash();
        this.threshold = new JavaCkksThreshold(this);
    }

    private byte[] computeParameterHash() {
        ByteBuffer b = ByteBuffer.allocate(64 + 16 * primeCount);
        b.put("metisfl-ckks/1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.putInt(n).putInt(primeCount);
        for (int i = 0; i < primeCount; i++) {
            b.putLong(basis.primes[i]).putLong(basis.ntt[i].psi);
        }
        b.putInt(params.scaleBits()).putInt(params.weightScaleBits());
        return sha256(Arrays.copyOf(b.array(), b.position()));
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String backendId() {
        return BACKEND_ID;
    }

    @Override
    public CkksParameters parameters() {
        return params;
    }

    @Override
    public byte[] parameterHash() {
        return parameterHash.clone();
    }

    @Override
    public int valuesPerCiphertext() {
        return n;
    }

    @Override
    public boolean compactSymmetricCiphertexts() {
        return true;
    }

    /** The kernels in use ("java" or "native"). */
    public String kernelsName() {
        return kernels.name();
    }

    /** The resolved primes (for documentation and tests). */
    public long[] primes() {
        return basis.primes.clone();
    }

    @Override
    public String toString() {
        return "JavaCkksContext{" + params + ", kernels=" + kernels.name() + "}";
    }

    // ---------------------------------------------------------------- keys

    @Override
    public KeyPair generateKeys() {
        int[] sTernary = new int[n];
        Samplers.ternary(random, sTernary);
        byte[] ternary = new byte[n];
        for (int k = 0; k < n; k++) {
            ternary[k] = (byte) sTernary[k];
        }
        long[] s = ntt(basis.toResidues(sTernary));
        byte[] aSeed = random.seed();
        long[] a = expandUniform(aSeed);
        int[] e = new int[n];
        Samplers.gaussian(new Prg(random.seed(), 0), e);
        long[] b = ntt(basis.toResidues(e));
        long[] negS = negate(s);
        long[] negSShoup = shoup(negS);
        // b = a * (-s) + e
        long[] t = a.clone();
        mulAdd(t, negS, negSShoup, b);
        b = t;
        byte[] keyId = keyIdOf(aSeed, b);
        CkksSecretKey sk =
                new CkksSecretKey(parameterHash, keyId, ternary, s, shoup(s), negS, negSShoup);
        CkksPublicKey pk = new CkksPublicKey(parameterHash, keyId, aSeed, b, shoup(b), a, shoup(a));
        return new KeyPair(pk, sk);
    }

    byte[] keyIdOf(byte[] aSeed, long[] b) {
        ByteBuffer buf = ByteBuffer.allocate(32 + 8 * b.length + 32);
        buf.put(parameterHash).put(aSeed);
        for (long v : b) {
            buf.putLong(v);
        }
        return Arrays.copyOf(sha256(buf.array()), HeEnvelope.KEY_ID_BYTES);
    }

    long[] negate(long[] x) {
        long[] out = new long[x.length];
        for (int i = 0; i < primeCount; i++) {
            long q = basis.primes[i];
            for (int k = i * n, end = k + n; k < end; k++) {
                out[k] = x[k] == 0 ? 0 : q - x[k];
            }
        }
        return out;
    }

    long[] shoup(long[] x) {
        long[] out = new long[x.length];
        for (int i = 0; i < primeCount; i++) {
            long q = basis.primes[i];
            for (int k = i * n, end = k + n; k < end; k++) {
                out[k] = ModArith.shoupPrecompute(x[k], q);
            }
        }
        return out;
    }

    long[] ntt(long[] poly) {
        for (int i = 0; i < primeCount; i++) {
            kernels.forwardNtt(poly, i * n, basis.ntt[i]);
        }
        return poly;
    }

    void inverseNtt(long[] poly) {
        for (int i = 0; i < primeCount; i++) {
            kernels.inverseNtt(poly, i * n, basis.ntt[i]);
        }
    }

    /** {@code t = t * w + add}, prime by prime. */
    void mulAdd(long[] t, long[] w, long[] wShoup, long[] add) {
        for (int i = 0; i < primeCount; i++) {
            int off = i * n;
            kernels.mulPointwiseAddMod(t, off, w, wShoup, off, add, off, n, basis.primes[i]);
        }
    }

    /** The uniform polynomial of a seed, directly in the NTT domain (one PRG stream per prime). */
    long[] expandUniform(byte[] seed) {
        long[] a = new long[primeCount * n];
        expandUniformInto(seed, a);
        return a;
    }

    private void expandUniformInto(byte[] seed, long[] a) {
        for (int i = 0; i < primeCount; i++) {
            Samplers.uniform(new Prg(seed, 1 + i), a, i * n, n, basis.primes[i]);
        }
    }

    // ---------------------------------------------------------------- encryption

    private double[] encodeChecked(float[] values, int from, int to) {
        if (from < 0 || to > values.length || from > to) {
            throw new IndexOutOfBoundsException(
                    "range [" + from + ", " + to + ") of " + values.length + " values");
        }
        if (to - from > n) {
            throw new IllegalArgumentException(
                    (to - from) + " values do not fit one ciphertext of " + n);
        }
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException(
                        "value "
                                + i
                                + " is "
                                + values[i]
                                + ": only finite values can be encrypted");
            }
        }
        return encoder.encode(values, from, to, scale);
    }

    @Override
    public Ciphertext encrypt(PublicKey key, float[] values, int from, int to) {
        CkksPublicKey pk = checkKey(key);
        double[] coeffs = encodeChecked(values, from, to);
        Prg prg = new Prg(random.seed(), 0);
        int[] v = new int[n];
        int[] e0 = new int[n];
        int[] e1 = new int[n];
        Samplers.ternary(prg, v);
        Samplers.gaussian(prg, e0);
        Samplers.gaussian(prg, e1);
        long[] m = ntt(basis.toResidues(coeffs, e0));
        long[] vv = ntt(basis.toResidues(v));
        long[] c1 = ntt(basis.toResidues(e1));
        long[] c0 = vv.clone();
        mulAdd(c0, pk.b, pk.bShoup, m); // b·v + e0 + m
        mulAdd(vv, pk.a, pk.aShoup, c1); // a·v + e1
        return new CkksCiphertext(parameterHash, pk.keyId, scale, to - from, c0, vv, null);
    }

    @Override
    public Ciphertext encrypt(SecretKey key, float[] values, int from, int to) {
        CkksSecretKey sk = checkKey(key);
        double[] coeffs = encodeChecked(values, from, to);
        int[] e = new int[n];
        Samplers.gaussian(new Prg(random.seed(), 0), e);
        long[] m = ntt(basis.toResidues(coeffs, e));
        byte[] aSeed = random.seed();
        long[] c0 = expandUniform(aSeed);
        mulAdd(c0, sk.negS, sk.negSShoup, m); // -a·s + e + m
        return new CkksCiphertext(parameterHash, sk.keyId, scale, to - from, c0, null, aSeed);
    }

    // ---------------------------------------------------------------- evaluation

    long[] c1Of(CkksCiphertext c) {
        return c.c1 != null ? c.c1 : expandUniform(c.c1Seed);
    }

    @Override
    public Ciphertext add(Ciphertext a, Ciphertext b) {
        CkksCiphertext x = checkCiphertext(a);
        CkksCiphertext y = checkCiphertext(b);
        if (!Arrays.equals(x.keyId, y.keyId)) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts under different keys: "
                            + HeEnvelope.hex(x.keyId)
                            + " and "
                            + HeEnvelope.hex(y.keyId));
        }
        if (x.scale != y.scale) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts of different scales (2^"
                            + Math.round(x.scaleBits())
                            + " and 2^"
                            + Math.round(y.scaleBits())
                            + "): weight every term of a sum the same number of times");
        }
        if (x.valueCount != y.valueCount) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts of "
                            + x.valueCount
                            + " and "
                            + y.valueCount
                            + " values");
        }
        long[] c0 = x.c0.clone();
        long[] c1 = x.c1 != null ? x.c1.clone() : expandUniform(x.c1Seed);
        long[] yc1 = c1Of(y);
        for (int i = 0; i < primeCount; i++) {
            int off = i * n;
            long q = basis.primes[i];
            kernels.addMod(c0, off, y.c0, off, n, q);
            kernels.addMod(c1, off, yc1, off, n, q);
        }
        return new CkksCiphertext(parameterHash, x.keyId, x.scale, x.valueCount, c0, c1, null);
    }

    @Override
    public Ciphertext multiply(Ciphertext c, double w) {
        CkksCiphertext x = checkCiphertext(c);
        long[] r = weightResidues(w);
        double newScale = x.scale * weightScale;
        double newBits = Math.log(newScale) / Math.log(2);
        if (newBits + MIN_HEADROOM_BITS > basis.log2Modulus) {
            throw new IllegalArgumentException(
                    "multiplying a ciphertext of scale 2^"
                            + Math.round(x.scaleBits())
                            + " by a weight would leave fewer than "
                            + MIN_HEADROOM_BITS
                            + " bits of the modulus for the values; weight each term once");
        }
        long[] c0 = x.c0.clone();
        long[] c1 = x.c1 != null ? x.c1.clone() : expandUniform(x.c1Seed);
        for (int i = 0; i < primeCount; i++) {
            long q = basis.primes[i];
            long ws = ModArith.shoupPrecompute(r[i], q);
            kernels.mulScalarMod(c0, i * n, n, r[i], ws, q);
            kernels.mulScalarMod(c1, i * n, n, r[i], ws, q);
        }
        return new CkksCiphertext(parameterHash, x.keyId, newScale, x.valueCount, c0, c1, null);
    }

    @Override
    public Optional<ThresholdHe> threshold() {
        return Optional.of(threshold);
    }

    @Override
    public CiphertextSum newSum() {
        return new CkksSum();
    }

    /**
     * Σ wᵢ·ctᵢ accumulated in place: one fused multiply-add per residue, no allocation per term.
     */
    private final class CkksSum implements CiphertextSum {
        private long[] c0;
        private long[] c1;
        private long[] scratch;
        private byte[] keyId;
        private int valueCount;
        private int terms;

        @Override
        public void add(Ciphertext c, double w) {
            CkksCiphertext x = checkCiphertext(c);
            if (x.scale != scale) {
                throw new IncompatibleCiphertextException(
                        "a sum takes fresh ciphertexts (scale 2^"
                                + params.scaleBits()
                                + "), this one has scale 2^"
                                + Math.round(x.scaleBits()));
            }
            long[] r = weightResidues(w);
            if (c0 == null) {
                c0 = new long[primeCount * n];
                c1 = new long[primeCount * n];
                keyId = x.keyId;
                valueCount = x.valueCount;
            } else {
                checkSameTerms(x.keyId, x.valueCount);
            }
            long[] xc1;
            if (x.c1 != null) {
                xc1 = x.c1;
            } else {
                if (scratch == null) {
                    scratch = new long[primeCount * n];
                }
                expandUniformInto(x.c1Seed, scratch);
                xc1 = scratch;
            }
            for (int i = 0; i < primeCount; i++) {
                long q = basis.primes[i];
                long ws = ModArith.shoupPrecompute(r[i], q);
                int off = i * n;
                kernels.mulScalarAddMod(c0, off, x.c0, off, n, r[i], ws, q);
                kernels.mulScalarAddMod(c1, off, xc1, off, n, r[i], ws, q);
            }
            terms++;
        }

        private void checkSameTerms(byte[] otherKey, int otherCount) {
            if (!Arrays.equals(keyId, otherKey)) {
                throw new IncompatibleCiphertextException(
                        "cannot add ciphertexts under different keys: "
                                + HeEnvelope.hex(keyId)
                                + " and "
                                + HeEnvelope.hex(otherKey));
            }
            if (valueCount != otherCount) {
                throw new IncompatibleCiphertextException(
                        "cannot add ciphertexts of "
                                + valueCount
                                + " and "
                                + otherCount
                                + " values");
            }
        }

        @Override
        public void merge(CiphertextSum other) {
            if (!(other instanceof CkksSum) || ((CkksSum) other).outer() != JavaCkksContext.this) {
                if (other.terms() > 0) {
                    throw new IncompatibleCiphertextException(
                            "can only merge sums of the same context");
                }
                return;
            }
            CkksSum o = (CkksSum) other;
            if (o.terms == 0) {
                return;
            }
            if (c0 == null) {
                c0 = o.c0.clone();
                c1 = o.c1.clone();
                keyId = o.keyId;
                valueCount = o.valueCount;
            } else {
                checkSameTerms(o.keyId, o.valueCount);
                for (int i = 0; i < primeCount; i++) {
                    int off = i * n;
                    kernels.addMod(c0, off, o.c0, off, n, basis.primes[i]);
                    kernels.addMod(c1, off, o.c1, off, n, basis.primes[i]);
                }
            }
            terms += o.terms;
        }

        @Override
        public void merge(Ciphertext partial, int partialTerms) {
            CkksCiphertext x = checkCiphertext(partial);
            if (x.scale != scale * weightScale || x.c1 == null) {
                throw new IncompatibleCiphertextException(
                        "not a weighted sum (scale 2^"
                                + Math.round(x.scaleBits())
                                + ", expected 2^"
                                + (params.scaleBits() + params.weightScaleBits())
                                + "): add fresh ciphertexts with add(ciphertext, weight)");
            }
            if (partialTerms < 0) {
                throw new IllegalArgumentException("terms must be >= 0, got " + partialTerms);
            }
            if (c0 == null) {
                c0 = x.c0.clone();
                c1 = x.c1.clone();
                keyId = x.keyId;
                valueCount = x.valueCount;
            } else {
                checkSameTerms(x.keyId, x.valueCount);
                for (int i = 0; i < primeCount; i++) {
                    int off = i * n;
                    kernels.addMod(c0, off, x.c0, off, n, basis.primes[i]);
                    kernels.addMod(c1, off, x.c1, off, n, basis.primes[i]);
                }
            }
            terms += partialTerms;
        }

        private JavaCkksContext outer() {
            return JavaCkksContext.this;
        }

        @Override
        public int terms() {
            return terms;
        }

        @Override
        public Ciphertext result() {
            if (terms == 0) {
                throw new IllegalStateException("empty sum: add a term first");
            }
            return new CkksCiphertext(
                    parameterHash,
                    keyId,
                    scale * weightScale,
                    valueCount,
                    c0.clone(),
                    c1.clone(),
                    null);
        }
    }

    /** round(w · Δw) modulo each prime. */
    private long[] weightResidues(double w) {
        if (!Double.isFinite(w)) {
            throw new IllegalArgumentException("weight " + w + " is not finite");
        }
        double scaled = Math.rint(w * weightScale);
        if (Math.abs(scaled) >= 0x1p62) {
            throw new IllegalArgumentException(
                    "weight " + w + " is too large for weight-scale 2^" + params.weightScaleBits());
        }
        return basis.residuesOf((long) scaled);
    }

    // ---------------------------------------------------------------- decryption

    @Override
    public double[] decrypt(SecretKey key, Ciphertext c) {
        CkksSecretKey sk = checkKey(key);
        CkksCiphertext x = checkCiphertext(c);
        if (!Arrays.equals(x.keyId, sk.keyId)) {
            throw new IncompatibleCiphertextException(
                    "wrong key: the ciphertext is encrypted under key "
                            + HeEnvelope.hex(x.keyId)
                            + ", this secret key is "
                            + HeEnvelope.hex(sk.keyId));
        }
        long[] t = rawDecrypt(sk, x);
        double[] coeffs = basis.toCenteredDoubles(t);
        return encoder.decode(coeffs, x.scale, x.valueCount);
    }

    /** c0 + c1·s in the coefficient domain (for decryption and error measurements). */
    long[] rawDecrypt(CkksSecretKey sk, CkksCiphertext x) {
        long[] t = c1Of(x).clone();
        mulAdd(t, sk.s, sk.sShoup, x.c0);
        inverseNtt(t);
        return t;
    }

    // ---------------------------------------------------------------- checks

    CkksCiphertext checkCiphertext(Ciphertext c) {
        checkOrigin("ciphertext", c.backendId(), c.parameterHash());
        if (!(c instanceof CkksCiphertext)) {
            throw new IncompatibleCiphertextException(
                    "not a ciphertext of this backend: " + c.getClass().getName());
        }
        return (CkksCiphertext) c;
    }

    private CkksPublicKey checkKey(PublicKey k) {
        checkOrigin("public key", k.backendId(), k.parameterHash());
        return (CkksPublicKey) k;
    }

    private CkksSecretKey checkKey(SecretKey k) {
        checkOrigin("secret key", k.backendId(), k.parameterHash());
        return (CkksSecretKey) k;
    }

    void checkOrigin(String what, String backend, byte[] hash) {
        if (!BACKEND_ID.equals(backend)) {
            throw new IncompatibleCiphertextException(
                    "a "
                            + what
                            + " of backend '"
                            + backend
                            + "' given to backend '"
                            + BACKEND_ID
                            + "'");
        }
        if (!Arrays.equals(hash, parameterHash)) {
            throw new IncompatibleCiphertextException(
                    "wrong parameters: the "
                            + what
                            + " has parameter hash "
                            + HeEnvelope.hex(hash)
                            + ", this context ("
                            + describe()
                            + ") has "
                            + HeEnvelope.hex(parameterHash));
        }
    }

    private String describe() {
        String preset = params.presetName();
        return preset != null ? "preset " + preset : params.toString();
    }

    // ---------------------------------------------------------------- serialization

    HeEnvelope envelope(HeEnvelope.Kind kind, byte[] keyId) {
        return new HeEnvelope(kind, BACKEND_ID, parameterHash, keyId);
    }

    int polyBytes() {
        int total = 0;
        for (long q : basis.primes) {
            total += BitPacking.packedBytes(n, 64 - Long.numberOfLeadingZeros(q));
        }
        return total;
    }

    void packPoly(long[] p, ByteBuffer out) {
        for (int i = 0; i < primeCount; i++) {
            BitPacking.pack(p, i * n, n, 64 - Long.numberOfLeadingZeros(basis.primes[i]), out);
        }
    }

    long[] unpackPoly(ByteBuffer in) {
        long[] p = new long[primeCount * n];
        for (int i = 0; i < primeCount; i++) {
            long q = basis.primes[i];
            BitPacking.unpack(in, p, i * n, n, 64 - Long.numberOfLeadingZeros(q), q);
        }
        return p;
    }

    @Override
    public byte[] serialize(Ciphertext c) {
        CkksCiphertext x = checkCiphertext(c);
        HeEnvelope env = envelope(HeEnvelope.Kind.CIPHERTEXT, x.keyId);
        int size =
                env.size()
                        + 8
                        + 4
                        + 1
                        + 1
                        + polyBytes()
                        + (x.c1Seed != null ? Prg.SEED_BYTES : polyBytes());
        ByteBuffer out = ByteBuffer.allocate(size);
        env.writeTo(out);
        out.putDouble(x.scale);
        out.putInt(x.valueCount);
        out.put((byte) (x.c1Seed != null ? FLAG_COMPACT : 0));
        out.put((byte) primeCount);
        packPoly(x.c0, out);
        if (x.c1Seed != null) {
            out.put(x.c1Seed);
        } else {
            packPoly(x.c1, out);
        }
        if (out.hasRemaining()) {
            throw new IllegalStateException("serialized size mismatch");
        }
        return out.array();
    }

    HeEnvelope readEnvelope(ByteBuffer in, HeEnvelope.Kind kind) {
        HeEnvelope env = HeEnvelope.readFrom(in);
        if (env.kind() != kind) {
            throw new MalformedCiphertextException(
                    "expected a " + kind + " but the bytes hold a " + env.kind());
        }
        checkOrigin(
                kind.name().toLowerCase().replace('_', ' '), env.backendId(), env.parameterHash());
        return env;
    }

    @Override
    public Ciphertext deserializeCiphertext(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = readEnvelope(in, HeEnvelope.Kind.CIPHERTEXT);
        try {
            double s = in.getDouble();
            checkScale(s);
            int count = in.getInt();
            if (count < 0 || count > n) {
                throw new MalformedCiphertextException(
                        "ciphertext claims " + count + " values; at most " + n + " fit");
            }
            int flags = in.get() & 0xff;
            if ((flags & ~FLAG_COMPACT) != 0) {
                throw new MalformedCiphertextException("unknown ciphertext flags " + flags);
            }
            int primes = in.get() & 0xff;
            if (primes != primeCount) {
                throw new MalformedCiphertextException(
                        "ciphertext has "
                                + primes
                                + " residue polynomials, expected "
                                + primeCount);
            }
            long[] c0 = unpackPoly(in);
            long[] c1 = null;
            byte[] seed = null;
            if ((flags & FLAG_COMPACT) != 0) {
                seed = new byte[Prg.SEED_BYTES];
                in.get(seed);
            } else {
                c1 = unpackPoly(in);
            }
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException(
                        in.remaining() + " unexpected bytes after the ciphertext");
            }
            return new CkksCiphertext(parameterHash, env.keyId(), s, count, c0, c1, seed);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated ciphertext");
        }
    }

    /** A scale must be Δ · Δw^k for some k ≥ 0 within the modulus. */
    void checkScale(double s) {
        double expected = scale;
        while (Math.log(expected) / Math.log(2) + MIN_HEADROOM_BITS <= basis.log2Modulus) {
            if (s == expected) {
                return;
            }
            if (params.weightScaleBits() == 0) {
                break;
            }
            expected *= weightScale;
        }
        throw new MalformedCiphertextException("ciphertext scale " + s + " is not valid here");
    }

    @Override
    public byte[] serialize(PublicKey key) {
        CkksPublicKey pk = checkKey(key);
        HeEnvelope env = envelope(HeEnvelope.Kind.PUBLIC_KEY, pk.keyId);
        ByteBuffer out = ByteBuffer.allocate(env.size() + Prg.SEED_BYTES + polyBytes());
        env.writeTo(out);
        out.put(pk.aSeed);
        packPoly(pk.b, out);
        return out.array();
    }

    @Override
    public PublicKey deserializePublicKey(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = readEnvelope(in, HeEnvelope.Kind.PUBLIC_KEY);
        try {
            byte[] seed = new byte[Prg.SEED_BYTES];
            in.get(seed);
            long[] b = unpackPoly(in);
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException("unexpected bytes after the public key");
            }
            if (!Arrays.equals(keyIdOf(seed, b), env.keyId())) {
                throw new MalformedCiphertextException(
                        "public key does not match its key id " + HeEnvelope.hex(env.keyId()));
            }
            long[] a = expandUniform(seed);
            return new CkksPublicKey(parameterHash, env.keyId(), seed, b, shoup(b), a, shoup(a));
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated public key");
        }
    }

    @Override
    public byte[] serialize(SecretKey key) {
        CkksSecretKey sk = checkKey(key);
        HeEnvelope env = envelope(HeEnvelope.Kind.SECRET_KEY, sk.keyId);
        ByteBuffer out = ByteBuffer.allocate(env.size() + n);
        env.writeTo(out);
        out.put(sk.ternary);
        return out.array();
    }

    @Override
    public SecretKey deserializeSecretKey(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = readEnvelope(in, HeEnvelope.Kind.SECRET_KEY);
        if (in.remaining() != n) {
            throw new MalformedCiphertextException(
                    "secret key body has " + in.remaining() + " bytes, expected " + n);
        }
        byte[] ternary = new byte[n];
        in.get(ternary);
        int[] s = new int[n];
        for (int k = 0; k < n; k++) {
            if (ternary[k] < -1 || ternary[k] > 1) {
                throw new MalformedCiphertextException("secret key coefficient out of {-1,0,1}");
            }
            s[k] = ternary[k];
        }
        long[] sNtt = ntt(basis.toResidues(s));
        long[] negS = negate(sNtt);
        return new CkksSecretKey(
                parameterHash, env.keyId(), ternary, sNtt, shoup(sNtt), negS, shoup(negS));
    }
}
