package org.metisfl.crypto.openfhe;

import java.lang.ref.Cleaner;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.function.LongConsumer;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.CkksParameters;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.KeyPair;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.SecretKey;

/**
 * {@link HeContext} over OpenFHE's CKKS: ring dimension n, scaling modulus of the preset's scale
 * bits (at most 59), a 60-bit first modulus, depth 2, 128-bit classical security (OpenFHE checks it
 * against the same standard), uniform ternary secrets. Real packing: n/2 values per ciphertext.
 */
final class OpenFheContext implements HeContext {

    static final int FIRST_MOD_BITS = 60;
    private static final Cleaner CLEANER = Cleaner.create();

    /** A native pointer freed when its Java owner is unreachable. */
    static final class Handle {
        final long ptr;

        Handle(Object owner, long ptr, LongConsumer free) {
            this.ptr = ptr;
            CLEANER.register(owner, () -> free.accept(ptr));
        }
    }

    private final CkksParameters params;
    private final Handle ctx;
    private final byte[] parameterHash;
    private final int slots;

    OpenFheContext(CkksParameters params) {
        this.params = params;
        int scaleBits = Math.min(params.scaleBits(), 59);
        long c = OpenFheCkks.createContext(params.ringDimension(), scaleBits, FIRST_MOD_BITS);
        if (c == 0) {
            throw new IllegalArgumentException("OpenFHE refused " + params + ": " + lastError());
        }
        this.ctx = new Handle(this, c, OpenFheCkks::freeContext);
        this.slots = params.ringDimension() / 2;
        this.parameterHash =
                sha256(
                        ("openfhe-ckks/1|n="
                                        + params.ringDimension()
                                        + "|scale="
                                        + scaleBits
                                        + "|first="
                                        + FIRST_MOD_BITS
                                        + "|depth=2")
                                .getBytes(StandardCharsets.US_ASCII));
    }

    private static String lastError() {
        return OpenFheCkks.lastError().getString();
    }

    static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long checked(long handle, String what) {
        if (handle == 0) {
            throw new IllegalStateException("OpenFHE " + what + " failed: " + lastError());
        }
        return handle;
    }

    @Override
    public String backendId() {
        return OpenFheBackend.ID;
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
        return slots;
    }

    @Override
    public boolean compactSymmetricCiphertexts() {
        return false;
    }

    // ------------------------------------------------------------ objects

    private final class Keys {
        final Handle handle;
        final byte[] keyId;
        final byte[] publicBytes;

        Keys(long ptr, byte[] publicBytes) {
            this.handle = new Handle(this, ptr, OpenFheCkks::freeKeys);
            this.publicBytes = publicBytes;
            this.keyId = Arrays.copyOf(sha256(publicBytes), HeEnvelope.KEY_ID_BYTES);
        }
    }

    private final class OfPublicKey implements PublicKey {
        final Keys keys;

        OfPublicKey(Keys keys) {
            this.keys = keys;
        }

        @Override
        public String backendId() {
            return OpenFheBackend.ID;
        }

        @Override
        public byte[] parameterHash() {
            return parameterHash.clone();
        }

        @Override
        public byte[] keyId() {
            return keys.keyId.clone();
        }
    }

    private final class OfSecretKey implements SecretKey {
        final Keys keys;

        OfSecretKey(Keys keys) {
            this.keys = keys;
        }

        @Override
        public String backendId() {
            return OpenFheBackend.ID;
        }

        @Override
        public byte[] parameterHash() {
            return parameterHash.clone();
        }

        @Override
        public byte[] keyId() {
            return keys.keyId.clone();
        }
    }

    private final class OfCiphertext implements Ciphertext {
        final Handle handle;
        final byte[] keyId;
        final int count;
        final int degree;

        OfCiphertext(long ptr, byte[] keyId, int count, int degree) {
            this.handle = new Handle(this, ptr, OpenFheCkks::freeCiphertext);
            this.keyId = keyId;
            this.count = count;
            this.degree = degree;
        }

        @Override
        public String backendId() {
            return OpenFheBackend.ID;
        }

        @Override
        public byte[] parameterHash() {
            return parameterHash.clone();
        }

        @Override
        public byte[] keyId() {
            return keyId.clone();
        }

        @Override
        public int valueCount() {
            return count;
        }
    }

    private static byte[] take(long buf) {
        checked(buf, "serialization");
        try {
            byte[] out = new byte[Math.toIntExact(OpenFheCkks.bufferSize(buf))];
            OpenFheCkks.bufferCopy(buf, out);
            return out;
        } finally {
            OpenFheCkks.freeBuffer(buf);
        }
    }

    // ------------------------------------------------------------ operations

    @Override
    public KeyPair generateKeys() {
        long k = checked(OpenFheCkks.keyGen(ctx.ptr), "key generation");
        Keys keys = new Keys(k, take(OpenFheCkks.serializePublicKey(k)));
        return new KeyPair(new OfPublicKey(keys), new OfSecretKey(keys));
    }

    private double[] values(float[] v, int from, int to) {
        if (to - from > slots || from < 0 || to > v.length || from > to) {
            throw new IllegalArgumentException(
                    "range [" + from + ", " + to + ") does not fit one ciphertext of " + slots);
        }
        double[] d = new double[to - from];
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException(
                        "value " + i + " is " + v[i] + ": only finite values can be encrypted");
            }
            d[i - from] = v[i];
        }
        return d;
    }

    @Override
    public Ciphertext encrypt(PublicKey key, float[] values, int from, int to) {
        Keys k = check(key).keys;
        double[] d = values(values, from, to);
        long ct = checked(OpenFheCkks.encrypt(ctx.ptr, k.handle.ptr, d, d.length, 0), "Encrypt");
        return new OfCiphertext(ct, k.keyId, d.length, 1);
    }

    @Override
    public Ciphertext encrypt(SecretKey key, float[] values, int from, int to) {
        Keys k = check(key).keys;
        double[] d = values(values, from, to);
        long ct = checked(OpenFheCkks.encrypt(ctx.ptr, k.handle.ptr, d, d.length, 1), "Encrypt");
        return new OfCiphertext(ct, k.keyId, d.length, 1);
    }

    @Override
    public Ciphertext add(Ciphertext a, Ciphertext b) {
        OfCiphertext x = check(a);
        OfCiphertext y = check(b);
        if (!Arrays.equals(x.keyId, y.keyId)) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts under different keys");
        }
        if (x.degree != y.degree) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts of different scales: weight every term the same"
                            + " number of times");
        }
        if (x.count != y.count) {
            throw new IncompatibleCiphertextException(
                    "cannot add ciphertexts of " + x.count + " and " + y.count + " values");
        }
        long ct = checked(OpenFheCkks.add(ctx.ptr, x.handle.ptr, y.handle.ptr), "EvalAdd");
        return new OfCiphertext(ct, x.keyId, x.count, x.degree);
    }

    @Override
    public Ciphertext multiply(Ciphertext c, double w) {
        OfCiphertext x = check(c);
        if (!Double.isFinite(w)) {
            throw new IllegalArgumentException("weight " + w + " is not finite");
        }
        if (x.degree >= 2) {
            throw new IllegalArgumentException(
                    "this ciphertext is already weighted; weight each term once");
        }
        long ct = checked(OpenFheCkks.multiplyConst(ctx.ptr, x.handle.ptr, w), "EvalMult");
        return new OfCiphertext(ct, x.keyId, x.count, x.degree + 1);
    }

    @Override
    public double[] decrypt(SecretKey key, Ciphertext c) {
        Keys k = check(key).keys;
        OfCiphertext x = check(c);
        if (!Arrays.equals(x.keyId, k.keyId)) {
            throw new IncompatibleCiphertextException(
                    "wrong key: the ciphertext is encrypted under key "
                            + HeEnvelope.hex(x.keyId)
                            + ", this secret key is "
                            + HeEnvelope.hex(k.keyId));
        }
        double[] out = new double[x.count];
        if (OpenFheCkks.decrypt(ctx.ptr, k.handle.ptr, x.handle.ptr, out, x.count) != 1) {
            throw new IllegalStateException("OpenFHE Decrypt failed: " + lastError());
        }
        return out;
    }

    // ------------------------------------------------------------ checks

    private void checkOrigin(String what, String backend, byte[] hash) {
        if (!OpenFheBackend.ID.equals(backend)) {
            throw new IncompatibleCiphertextException(
                    "a "
                            + what
                            + " of backend '"
                            + backend
                            + "' given to backend '"
                            + OpenFheBackend.ID
                            + "'");
        }
        if (!Arrays.equals(hash, parameterHash)) {
            throw new IncompatibleCiphertextException(
                    "wrong parameters: the "
                            + what
                            + " has parameter hash "
                            + HeEnvelope.hex(hash)
                            + ", this context has "
                            + HeEnvelope.hex(parameterHash));
        }
    }

    private OfCiphertext check(Ciphertext c) {
        checkOrigin("ciphertext", c.backendId(), c.parameterHash());
        return (OfCiphertext) c;
    }

    private OfPublicKey check(PublicKey k) {
        checkOrigin("public key", k.backendId(), k.parameterHash());
        return (OfPublicKey) k;
    }

    private OfSecretKey check(SecretKey k) {
        checkOrigin("secret key", k.backendId(), k.parameterHash());
        return (OfSecretKey) k;
    }

    // ------------------------------------------------------------ serialization

    private byte[] wrap(HeEnvelope.Kind kind, byte[] keyId, byte[] head, byte[] body) {
        HeEnvelope env = new HeEnvelope(kind, OpenFheBackend.ID, parameterHash, keyId);
        ByteBuffer out = ByteBuffer.allocate(env.size() + head.length + body.length);
        env.writeTo(out);
        out.put(head).put(body);
        return out.array();
    }

    private HeEnvelope open(ByteBuffer in, HeEnvelope.Kind kind) {
        HeEnvelope env = HeEnvelope.readFrom(in);
        if (env.kind() != kind) {
            throw new MalformedCiphertextException(
                    "expected a " + kind + " but the bytes hold a " + env.kind());
        }
        checkOrigin(
                kind.name().toLowerCase().replace('_', ' '), env.backendId(), env.parameterHash());
        return env;
    }

    private static byte[] rest(ByteBuffer in) {
        byte[] b = new byte[in.remaining()];
        in.get(b);
        return b;
    }

    @Override
    public byte[] serialize(Ciphertext c) {
        OfCiphertext x = check(c);
        byte[] body = take(OpenFheCkks.serializeCiphertext(x.handle.ptr));
        byte[] head = ByteBuffer.allocate(5).put((byte) x.degree).putInt(x.count).array();
        return wrap(HeEnvelope.Kind.CIPHERTEXT, x.keyId, head, body);
    }

    @Override
    public Ciphertext deserializeCiphertext(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = open(in, HeEnvelope.Kind.CIPHERTEXT);
        try {
            int degree = in.get();
            int count = in.getInt();
            if (degree < 1 || degree > 2 || count < 0 || count > slots) {
                throw new MalformedCiphertextException(
                        "ciphertext header out of range (degree "
                                + degree
                                + ", "
                                + count
                                + " values)");
            }
            byte[] body = rest(in);
            long ct = OpenFheCkks.deserializeCiphertext(body, body.length);
            if (ct == 0) {
                throw new MalformedCiphertextException("not an OpenFHE ciphertext: " + lastError());
            }
            return new OfCiphertext(ct, env.keyId(), count, degree);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated ciphertext");
        }
    }

    @Override
    public byte[] serialize(PublicKey key) {
        Keys k = check(key).keys;
        return wrap(HeEnvelope.Kind.PUBLIC_KEY, k.keyId, new byte[0], k.publicBytes);
    }

    @Override
    public PublicKey deserializePublicKey(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = open(in, HeEnvelope.Kind.PUBLIC_KEY);
        byte[] pk = rest(in);
        long k = OpenFheCkks.deserializeKeys(pk, pk.length, new byte[0], 0);
        if (k == 0) {
            throw new MalformedCiphertextException("not an OpenFHE public key: " + lastError());
        }
        Keys keys = new Keys(k, pk);
        if (!Arrays.equals(keys.keyId, env.keyId())) {
            throw new MalformedCiphertextException("public key does not match its key id");
        }
        return new OfPublicKey(keys);
    }

    @Override
    public byte[] serialize(SecretKey key) {
        Keys k = check(key).keys;
        byte[] sk = take(OpenFheCkks.serializeSecretKey(k.handle.ptr));
        ByteBuffer head = ByteBuffer.allocate(4 + k.publicBytes.length);
        head.putInt(k.publicBytes.length).put(k.publicBytes);
        return wrap(HeEnvelope.Kind.SECRET_KEY, k.keyId, head.array(), sk);
    }

    @Override
    public SecretKey deserializeSecretKey(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = open(in, HeEnvelope.Kind.SECRET_KEY);
        try {
            byte[] pk = new byte[in.getInt()];
            in.get(pk);
            byte[] sk = rest(in);
            long k = OpenFheCkks.deserializeKeys(pk, pk.length, sk, sk.length);
            if (k == 0) {
                throw new MalformedCiphertextException("not an OpenFHE secret key: " + lastError());
            }
            Keys keys = new Keys(k, pk);
            if (!Arrays.equals(keys.keyId, env.keyId())) {
                throw new MalformedCiphertextException("secret key does not match its key id");
            }
            return new OfSecretKey(keys);
        } catch (BufferUnderflowException | NegativeArraySizeException e) {
            throw new MalformedCiphertextException("truncated secret key");
        }
    }
}
