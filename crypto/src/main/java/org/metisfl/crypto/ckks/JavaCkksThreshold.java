package org.metisfl.crypto.ckks;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.metisfl.crypto.Ciphertext;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeEnvelope;
import org.metisfl.crypto.IncompatibleCiphertextException;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.MalformedCiphertextException;
import org.metisfl.crypto.PartialDecryption;
import org.metisfl.crypto.PublicKey;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.SecretKeyShare;
import org.metisfl.crypto.ShamirKeyShare;
import org.metisfl.crypto.ThresholdHe;
import org.metisfl.crypto.kernel.ModArith;

/**
 * n-out-of-n threshold RNS-CKKS over a {@link JavaCkksContext}: additive secret shares, a joint
 * public key from the members' public shares, partial decryptions with smudging noise, and their
 * combination. All polynomials are kept in the NTT domain, as in the context.
 */
final class JavaCkksThreshold implements ThresholdHe {

    /**
     * log2 of the smudging noise's standard deviation for a fresh ciphertext (scale Δ, weight sum
     * 1). The noise of a fresh public-key ciphertext under a joint key of N members has a standard
     * deviation of about 3.19·sqrt(4nN/3) ≈ 2^8.4·sqrt(N) per coefficient (n = 8192), so the
     * smudging is 2^36.6/sqrt(N) times larger; the README explains the choice.
     */
    static final int SMUDGING_BITS = 45;

    /** Above this standard deviation a single double draw no longer yields every integer. */
    private static final int DIRECT_SAMPLE_BITS = 45;

    private final JavaCkksContext he;

    JavaCkksThreshold(JavaCkksContext he) {
        this.he = he;
    }

    // ---------------------------------------------------------------- keys

    @Override
    public byte[] newCommonSeed() {
        return he.random.seed();
    }

    @Override
    public KeyShare generateKeyShare(byte[] commonSeed) {
        checkSeed(commonSeed);
        int n = he.n;
        int[] sTernary = new int[n];
        Samplers.ternary(he.random, sTernary);
        byte[] ternary = new byte[n];
        for (int k = 0; k < n; k++) {
            ternary[k] = (byte) sTernary[k];
        }
        long[] s = he.ntt(he.basis.toResidues(sTernary));
        long[] negS = he.negate(s);
        int[] e = new int[n];
        Samplers.gaussian(new Prg(he.random.seed(), 0), e);
        long[] b = he.expandUniform(commonSeed);
        he.mulAdd(b, negS, he.shoup(negS), he.ntt(he.basis.toResidues(e))); // -a·s_i + e_i
        byte[] seed = commonSeed.clone();
        byte[] id = shareIdOf(seed, b);
        return new KeyShare(
                new CkksPublicKeyShare(he.parameterHash, id, seed, b),
                new CkksSecretKeyShare(he.parameterHash, id, seed, ternary, s, he.shoup(s)));
    }

    private byte[] shareIdOf(byte[] seed, long[] b) {
        ByteBuffer buf = ByteBuffer.allocate(16 + 32 + 32 + 8 * b.length);
        buf.put("metisfl-share/1\0".getBytes(StandardCharsets.US_ASCII));
        buf.put(he.parameterHash).put(seed);
        for (long v : b) {
            buf.putLong(v);
        }
        return Arrays.copyOf(JavaCkksContext.sha256(buf.array()), HeEnvelope.KEY_ID_BYTES);
    }

    private static void checkSeed(byte[] seed) {
        if (seed == null || seed.length != Prg.SEED_BYTES) {
            throw new IllegalArgumentException(
                    "the common seed must have "
                            + Prg.SEED_BYTES
                            + " bytes, got "
                            + (seed == null ? "none" : seed.length));
        }
    }

    @Override
    public Committee combineKeyShares(List<PublicKeyShare> shares) {
        if (shares.isEmpty()) {
            throw new IllegalArgumentException("a committee needs at least one public key share");
        }
        CkksPublicKeyShare first = checkShare(shares.get(0));
        long[] b = new long[he.primeCount * he.n];
        TreeSet<String> ids = new TreeSet<>();
        for (PublicKeyShare s : shares) {
            CkksPublicKeyShare p = checkShare(s);
            if (!Arrays.equals(p.commonSeed, first.commonSeed)) {
                throw new IllegalArgumentException(
                        "public key shares of different common seeds ("
                                + HeEnvelope.hex(first.commonSeed)
                                + " and "
                                + HeEnvelope.hex(p.commonSeed)
                                + "): every member must use the committee's seed");
            }
            String id = HexFormat.of().formatHex(p.shareId);
            if (!ids.add(id)) {
                throw new IllegalArgumentException("public key share " + id + " given twice");
            }
            for (int i = 0; i < he.primeCount; i++) {
                he.kernels.addMod(b, i * he.n, p.b, i * he.n, he.n, he.basis.primes[i]);
            }
        }
        byte[] seed = first.commonSeed;
        long[] a = he.expandUniform(seed);
        CkksPublicKey joint =
                new CkksPublicKey(
                        he.parameterHash,
                        he.keyIdOf(seed, b),
                        seed,
                        b,
                        he.shoup(b),
                        a,
                        he.shoup(a));
        return new CkksCommittee(joint, List.copyOf(ids));
    }

    // ---------------------------------------------------------------- decryption

    @Override
    public double smudgingStdDev(Ciphertext c, double weightSum) {
        CkksCiphertext x = he.checkCiphertext(c);
        if (!(weightSum >= 0) || Double.isInfinite(weightSum)) {
            throw new IllegalArgumentException(
                    "weight sum must be finite and >= 0, got " + weightSum);
        }
        return Math.scalb(1.0, SMUDGING_BITS) * (x.scale / he.scale) * Math.max(1.0, weightSum);
    }

    @Override
    public PartialDecryption partialDecrypt(SecretKeyShare share, Ciphertext c, double weightSum) {
        CkksSecretKeyShare sk = checkShare(share);
        CkksCiphertext x = he.checkCiphertext(c);
        double sigma = smudgingStdDev(c, weightSum);
        if (Math.getExponent(sigma) + 16 > he.basis.log2Modulus - 1) {
            throw new IllegalArgumentException(
                    "smudging noise of 2^"
                            + Math.getExponent(sigma)
                            + " does not fit the "
                            + Math.round(he.basis.log2Modulus)
                            + "-bit modulus: the weight sum "
                            + weightSum
                            + " is too large for this preset");
        }
        long[] d = smudging(new Prg(he.random.seed(), 0), sigma);
        he.ntt(d);
        long[] t = he.c1Of(x).clone();
        he.mulAdd(t, sk.s, sk.sShoup, d); // c1·s_i + e_smudge
        return new CkksPartialDecryption(
                he.parameterHash, sk.shareId, x.keyId, digest(x), x.valueCount, t);
    }

    /**
     * Residues (coefficient domain) of n samples of a rounded Gaussian of standard deviation {@code
     * sigma}. Up to 2^45 one Box–Muller draw, scaled and rounded, reaches every integer; a larger
     * sigma is drawn as 2^k·round(σ/2^k · g) plus a Gaussian of standard deviation 2^(k+2), which
     * smooths the lattice 2^k·Z (its Fourier coefficients there are below e^-300), recursively.
     */
    long[] smudging(Prg prg, double sigma) {
        long[] out = new long[he.primeCount * he.n];
        Normals normals = new Normals(prg);
        for (int k = 0; k < he.n; k++) {
            addGaussian(normals, out, k, sigma);
        }
        return out;
    }

    private void addGaussian(Normals normals, long[] out, int k, double sigma) {
        int shift = Math.max(0, Math.getExponent(sigma) - (DIRECT_SAMPLE_BITS - 1));
        double top = Math.scalb(sigma, -shift);
        he.basis.addShifted(out, k, Math.round(top * normals.next()), shift);
        if (shift > 0) {
            addGaussian(normals, out, k, Math.scalb(1.0, shift + 2));
        }
    }

    /** Standard normal values, two per Box–Muller step, from 53-bit uniforms of the PRG. */
    private static final class Normals {
        private final Prg prg;
        private double spare;
        private boolean hasSpare;

        Normals(Prg prg) {
            this.prg = prg;
        }

        double next() {
            if (hasSpare) {
                hasSpare = false;
                return spare;
            }
            double u1 = ((prg.nextLong() >>> 11) + 1) * 0x1p-53; // (0, 1]
            double u2 = (prg.nextLong() >>> 11) * 0x1p-53;
            double r = Math.sqrt(-2 * Math.log(u1));
            double t = 2 * Math.PI * u2;
            spare = r * Math.sin(t);
            hasSpare = true;
            return r * Math.cos(t);
        }
    }

    /** SHA-256 of a ciphertext's contents (scale, value count, c0, c1): what partials commit to. */
    byte[] digest(CkksCiphertext x) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer head = ByteBuffer.allocate(32);
            head.put("metisfl-ct/1\0\0\0\0".getBytes(StandardCharsets.US_ASCII));
            head.putDouble(x.scale).putInt(x.valueCount);
            md.update(head.array(), 0, head.position());
            ByteBuffer buf = ByteBuffer.allocate(8 * x.c0.length);
            for (long[] poly : new long[][] {x.c0, he.c1Of(x)}) {
                buf.clear();
                for (long v : poly) {
                    buf.putLong(v);
                }
                md.update(buf.array());
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public double[] combine(Committee committee, Ciphertext c, List<PartialDecryption> parts) {
        if (!(committee instanceof CkksCommittee)) {
            throw new IncompatibleCiphertextException(
                    "not a committee of this backend: " + committee);
        }
        CkksCommittee cm = (CkksCommittee) committee;
        if (!Arrays.equals(cm.jointKey.parameterHash, he.parameterHash)) {
            throw new IncompatibleCiphertextException(
                    "the committee's joint key has other parameters than this context");
        }
        CkksCiphertext x = he.checkCiphertext(c);
        if (!Arrays.equals(x.keyId, cm.jointKey.keyId)) {
            throw new IncompatibleCiphertextException(
                    "the ciphertext is encrypted under key "
                            + HeEnvelope.hex(x.keyId)
                            + ", not under this committee's joint key "
                            + HeEnvelope.hex(cm.jointKey.keyId));
        }
        byte[] digest = digest(x);
        Map<String, CkksPartialDecryption> byMember = new LinkedHashMap<>();
        for (PartialDecryption p : parts) {
            CkksPartialDecryption d = checkPart(p);
            String id = HexFormat.of().formatHex(d.shareId);
            if (!cm.memberIds.contains(id)) {
                throw new IllegalArgumentException(
                        "partial decryption from "
                                + id
                                + ", who is not a member of this committee");
            }
            if (byMember.put(id, d) != null) {
                throw new IllegalArgumentException("two partial decryptions from member " + id);
            }
            if (!Arrays.equals(d.keyId, x.keyId)
                    || !Arrays.equals(d.digest, digest)
                    || d.valueCount != x.valueCount) {
                throw new IncompatibleCiphertextException(
                        "the partial decryption of member "
                                + id
                                + " is of another ciphertext (digest "
                                + HeEnvelope.hex(d.digest)
                                + ", this one "
                                + HeEnvelope.hex(digest)
                                + ")");
            }
        }
        if (byMember.size() != cm.memberIds.size()) {
            List<String> missing = new ArrayList<>(cm.memberIds);
            missing.removeAll(byMember.keySet());
            throw new IllegalArgumentException(
                    "n-out-of-n threshold decryption needs a partial decryption from every"
                            + " committee member: "
                            + missing.size()
                            + " of "
                            + cm.memberIds.size()
                            + " missing "
                            + missing);
        }
        List<long[]> ds = new ArrayList<>(byMember.size());
        for (CkksPartialDecryption d : byMember.values()) {
            ds.add(d.d);
        }
        long[] t = combineRaw(x, ds);
        return he.encoder.decode(he.basis.toCenteredDoubles(t), x.scale, x.valueCount);
    }

    /** c0 + Σ d_i in the coefficient domain, without any check (tests measure failures with it). */
    long[] combineRaw(CkksCiphertext x, List<long[]> partials) {
        long[] t = x.c0.clone();
        for (long[] d : partials) {
            for (int i = 0; i < he.primeCount; i++) {
                he.kernels.addMod(t, i * he.n, d, i * he.n, he.n, he.basis.primes[i]);
            }
        }
        he.inverseNtt(t);
        return t;
    }

    // ---------------------------------------------------------------- t-out-of-n

    private static void checkThreshold(int t, int members) {
        if (t < 1 || t > members) {
            throw new IllegalArgumentException(
                    "threshold " + t + " must be between 1 and the committee size " + members);
        }
        if (members > 255) {
            throw new IllegalArgumentException("at most 255 committee members, got " + members);
        }
    }

    private static CkksCommittee checkCommittee(Committee committee) {
        if (!(committee instanceof CkksCommittee)) {
            throw new IncompatibleCiphertextException(
                    "not a committee of this backend: " + committee);
        }
        return (CkksCommittee) committee;
    }

    /** The member's 1-based evaluation point, or an error naming it. */
    private static int indexOf(CkksCommittee cm, byte[] shareId) {
        int i = cm.memberIds.indexOf(HexFormat.of().formatHex(shareId));
        if (i < 0) {
            throw new IllegalArgumentException(
                    "share "
                            + HexFormat.of().formatHex(shareId)
                            + " is not a member of this committee");
        }
        return i + 1;
    }

    /** x^e residues of a small integer x for each prime. */
    private long[] powers(long x, int e) {
        long[] r = new long[he.primeCount];
        for (int i = 0; i < he.primeCount; i++) {
            r[i] = ModArith.powMod(x, e, he.basis.primes[i]);
        }
        return r;
    }

    /** {@code acc += w·p} prime by prime (w one residue per prime). */
    private void addScaled(long[] acc, long[] p, long[] w) {
        for (int i = 0; i < he.primeCount; i++) {
            long q = he.basis.primes[i];
            long ws = ModArith.shoupPrecompute(w[i], q);
            he.kernels.mulScalarAddMod(acc, i * he.n, p, i * he.n, he.n, w[i], ws, q);
        }
    }

    @Override
    public List<byte[]> dealShamirShares(SecretKeyShare share, Committee committee, int threshold) {
        CkksSecretKeyShare sk = checkShare(share);
        CkksCommittee cm = checkCommittee(committee);
        int members = cm.memberIds.size();
        checkThreshold(threshold, members);
        indexOf(cm, sk.shareId);
        // f(X) = s_i + r_1·X + ... + r_(t-1)·X^(t-1), coefficients uniform ring elements (NTT
        // domain: uniform there as in the coefficient domain)
        List<long[]> coeffs = new ArrayList<>();
        Prg prg = new Prg(he.random.seed(), 0);
        for (int k = 1; k < threshold; k++) {
            long[] r = new long[he.primeCount * he.n];
            for (int i = 0; i < he.primeCount; i++) {
                Samplers.uniform(prg, r, i * he.n, he.n, he.basis.primes[i]);
            }
            coeffs.add(r);
        }
        List<byte[]> out = new ArrayList<>(members);
        for (int j = 1; j <= members; j++) {
            long[] f = sk.s.clone();
            for (int k = 1; k < threshold; k++) {
                addScaled(f, coeffs.get(k - 1), powers(j, k));
            }
            byte[] to = HexFormat.of().parseHex(cm.memberIds.get(j - 1));
            HeEnvelope env = he.envelope(HeEnvelope.Kind.SHAMIR_DEALING, sk.shareId);
            ByteBuffer buf =
                    ByteBuffer.allocate(
                            env.size() + 2 * HeEnvelope.KEY_ID_BYTES + 2 + he.polyBytes());
            env.writeTo(buf);
            buf.put(to).put(cm.jointKey.keyId);
            buf.put((byte) threshold).put((byte) members);
            he.packPoly(f, buf);
            out.add(buf.array());
        }
        return out;
    }

    @Override
    public ShamirKeyShare combineDealings(
            SecretKeyShare own, Committee committee, int threshold, List<byte[]> dealings) {
        CkksSecretKeyShare sk = checkShare(own);
        CkksCommittee cm = checkCommittee(committee);
        int members = cm.memberIds.size();
        checkThreshold(threshold, members);
        int index = indexOf(cm, sk.shareId);
        long[] acc = new long[he.primeCount * he.n];
        TreeSet<String> dealers = new TreeSet<>();
        for (byte[] bytes : dealings) {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            HeEnvelope env = he.readEnvelope(in, HeEnvelope.Kind.SHAMIR_DEALING);
            String dealer = HexFormat.of().formatHex(env.keyId());
            try {
                byte[] to = new byte[HeEnvelope.KEY_ID_BYTES];
                in.get(to);
                byte[] keyId = new byte[HeEnvelope.KEY_ID_BYTES];
                in.get(keyId);
                int t = in.get() & 0xff;
                int m = in.get() & 0xff;
                long[] f = he.unpackPoly(in);
                if (in.hasRemaining()) {
                    throw new MalformedCiphertextException(
                            in.remaining() + " unexpected bytes after the Shamir dealing");
                }
                if (!Arrays.equals(to, sk.shareId)) {
                    throw new IllegalArgumentException(
                            "a dealing from "
                                    + dealer
                                    + " is addressed to "
                                    + HexFormat.of().formatHex(to)
                                    + ", not to this member");
                }
                if (!Arrays.equals(keyId, cm.jointKey.keyId) || t != threshold || m != members) {
                    throw new IllegalArgumentException(
                            "the dealing from "
                                    + dealer
                                    + " is for another committee or threshold ("
                                    + t
                                    + " of "
                                    + m
                                    + ", expected "
                                    + threshold
                                    + " of "
                                    + members
                                    + ")");
                }
                if (!cm.memberIds.contains(dealer)) {
                    throw new IllegalArgumentException(
                            "a dealing from " + dealer + ", who is not a member of this committee");
                }
                if (!dealers.add(dealer)) {
                    throw new IllegalArgumentException("two dealings from member " + dealer);
                }
                for (int i = 0; i < he.primeCount; i++) {
                    he.kernels.addMod(acc, i * he.n, f, i * he.n, he.n, he.basis.primes[i]);
                }
            } catch (BufferUnderflowException e) {
                throw new MalformedCiphertextException("truncated Shamir dealing");
            }
        }
        if (dealers.size() != members) {
            List<String> missing = new ArrayList<>(cm.memberIds);
            missing.removeAll(dealers);
            throw new IllegalArgumentException(
                    "a Shamir share needs the dealings of every committee member: missing "
                            + missing);
        }
        return new CkksShamirShare(
                he.parameterHash,
                sk.shareId,
                cm.jointKey.keyId,
                index,
                threshold,
                acc,
                he.shoup(acc));
    }

    /** λ_j for the set of evaluation points: Π_{k≠j} k / (k − j) modulo each prime. */
    long[] lagrange(int j, List<Integer> points) {
        long[] out = new long[he.primeCount];
        for (int i = 0; i < he.primeCount; i++) {
            long q = he.basis.primes[i];
            long num = 1;
            long den = 1;
            for (int k : points) {
                if (k != j) {
                    num = ModArith.mulModSlow(num, k, q);
                    den = ModArith.mulModSlow(den, Math.floorMod((long) k - j, q), q);
                }
            }
            out[i] = ModArith.mulModSlow(num, ModArith.invMod(den, q), q);
        }
        return out;
    }

    private List<Integer> points(CkksCommittee cm, List<String> answering, int threshold) {
        TreeSet<Integer> pts = new TreeSet<>();
        for (String id : answering) {
            int i = cm.memberIds.indexOf(id);
            if (i < 0) {
                throw new IllegalArgumentException(
                        "answering member " + id + " is not a member of this committee");
            }
            if (!pts.add(i + 1)) {
                throw new IllegalArgumentException("member " + id + " answers twice");
            }
        }
        if (pts.size() < threshold) {
            throw new IllegalArgumentException(
                    "t-out-of-n decryption needs at least "
                            + threshold
                            + " of "
                            + cm.memberIds.size()
                            + " members, got "
                            + pts.size());
        }
        return List.copyOf(pts);
    }

    /** The ciphertext digest bound to the answering set (sorted evaluation points). */
    private byte[] setDigest(byte[] ctDigest, List<Integer> points) {
        ByteBuffer b = ByteBuffer.allocate(16 + 32 + 4 * points.size());
        b.put("metisfl-tofn/1\0\0".getBytes(StandardCharsets.US_ASCII)).put(ctDigest);
        for (int p : points) {
            b.putInt(p);
        }
        return JavaCkksContext.sha256(b.array());
    }

    @Override
    public PartialDecryption partialDecrypt(
            ShamirKeyShare share,
            Committee committee,
            Ciphertext c,
            double weightSum,
            List<String> answering) {
        CkksShamirShare sh = checkShamir(share);
        CkksCommittee cm = checkCommittee(committee);
        CkksCiphertext x = he.checkCiphertext(c);
        if (!Arrays.equals(cm.jointKey.keyId, sh.keyId) || !Arrays.equals(x.keyId, sh.keyId)) {
            throw new IncompatibleCiphertextException(
                    "the ciphertext (key "
                            + HeEnvelope.hex(x.keyId)
                            + ") and committee (key "
                            + HeEnvelope.hex(cm.jointKey.keyId)
                            + ") must be those of this Shamir share (key "
                            + HeEnvelope.hex(sh.keyId)
                            + ")");
        }
        List<Integer> pts = points(cm, answering, sh.threshold);
        if (!pts.contains(sh.index)) {
            throw new IllegalArgumentException(
                    "this member ("
                            + HexFormat.of().formatHex(sh.shareId)
                            + ") is not among the answering members "
                            + answering);
        }
        double sigma = smudgingStdDev(c, weightSum);
        long[] e = smudging(new Prg(he.random.seed(), 0), sigma);
        he.ntt(e);
        long[] lambda = lagrange(sh.index, pts);
        long[] t = he.c1Of(x).clone();
        for (int i = 0; i < he.primeCount; i++) {
            long q = he.basis.primes[i];
            // c1 · λ_j (scalar), then · s̃_j (pointwise) + e
            he.kernels.mulScalarMod(
                    t, i * he.n, he.n, lambda[i], ModArith.shoupPrecompute(lambda[i], q), q);
        }
        he.mulAdd(t, sh.s, sh.sShoup, e);
        return new CkksPartialDecryption(
                he.parameterHash, sh.shareId, x.keyId, setDigest(digest(x), pts), x.valueCount, t);
    }

    @Override
    public double[] combine(
            Committee committee, int threshold, Ciphertext c, List<PartialDecryption> parts) {
        CkksCommittee cm = checkCommittee(committee);
        checkThreshold(threshold, cm.memberIds.size());
        CkksCiphertext x = he.checkCiphertext(c);
        if (!Arrays.equals(x.keyId, cm.jointKey.keyId)) {
            throw new IncompatibleCiphertextException(
                    "the ciphertext is encrypted under key "
                            + HeEnvelope.hex(x.keyId)
                            + ", not under this committee's joint key "
                            + HeEnvelope.hex(cm.jointKey.keyId));
        }
        List<String> ids = new ArrayList<>();
        List<CkksPartialDecryption> ds = new ArrayList<>();
        for (PartialDecryption p : parts) {
            CkksPartialDecryption d = checkPart(p);
            ids.add(HexFormat.of().formatHex(d.shareId));
            ds.add(d);
        }
        List<Integer> pts = points(cm, ids, threshold);
        byte[] digest = setDigest(digest(x), pts);
        List<long[]> polys = new ArrayList<>();
        for (int k = 0; k < ds.size(); k++) {
            CkksPartialDecryption d = ds.get(k);
            if (!Arrays.equals(d.keyId, x.keyId)
                    || !Arrays.equals(d.digest, digest)
                    || d.valueCount != x.valueCount) {
                throw new IncompatibleCiphertextException(
                        "the partial decryption of member "
                                + ids.get(k)
                                + " is of another ciphertext or made for another set of"
                                + " answering members");
            }
            polys.add(d.d);
        }
        long[] t = combineRaw(x, polys);
        return he.encoder.decode(he.basis.toCenteredDoubles(t), x.scale, x.valueCount);
    }

    @Override
    public byte[] serialize(ShamirKeyShare share) {
        CkksShamirShare sh = checkShamir(share);
        HeEnvelope env = he.envelope(HeEnvelope.Kind.SHAMIR_KEY_SHARE, sh.shareId);
        ByteBuffer out =
                ByteBuffer.allocate(env.size() + HeEnvelope.KEY_ID_BYTES + 2 + he.polyBytes());
        env.writeTo(out);
        out.put(sh.keyId);
        out.put((byte) sh.index).put((byte) sh.threshold);
        he.packPoly(sh.s, out);
        return out.array();
    }

    @Override
    public ShamirKeyShare deserializeShamirKeyShare(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = he.readEnvelope(in, HeEnvelope.Kind.SHAMIR_KEY_SHARE);
        try {
            byte[] keyId = new byte[HeEnvelope.KEY_ID_BYTES];
            in.get(keyId);
            int index = in.get() & 0xff;
            int t = in.get() & 0xff;
            if (index < 1 || t < 1) {
                throw new MalformedCiphertextException(
                        "Shamir share with index " + index + " and threshold " + t);
            }
            long[] s = he.unpackPoly(in);
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException(
                        in.remaining() + " unexpected bytes after the Shamir share");
            }
            return new CkksShamirShare(
                    he.parameterHash, env.keyId(), keyId, index, t, s, he.shoup(s));
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated Shamir share");
        }
    }

    private CkksShamirShare checkShamir(ShamirKeyShare s) {
        he.checkOrigin("Shamir key share", s.backendId(), s.parameterHash());
        if (!(s instanceof CkksShamirShare)) {
            throw new IncompatibleCiphertextException(
                    "not a Shamir share of this backend: " + s.getClass().getName());
        }
        return (CkksShamirShare) s;
    }

    // ---------------------------------------------------------------- checks

    private CkksPublicKeyShare checkShare(PublicKeyShare s) {
        he.checkOrigin("public key share", s.backendId(), s.parameterHash());
        if (!(s instanceof CkksPublicKeyShare)) {
            throw new IncompatibleCiphertextException(
                    "not a key share of this backend: " + s.getClass().getName());
        }
        return (CkksPublicKeyShare) s;
    }

    private CkksSecretKeyShare checkShare(SecretKeyShare s) {
        he.checkOrigin("secret key share", s.backendId(), s.parameterHash());
        if (!(s instanceof CkksSecretKeyShare)) {
            throw new IncompatibleCiphertextException(
                    "not a key share of this backend: " + s.getClass().getName());
        }
        return (CkksSecretKeyShare) s;
    }

    private CkksPartialDecryption checkPart(PartialDecryption p) {
        he.checkOrigin("partial decryption", p.backendId(), p.parameterHash());
        if (!(p instanceof CkksPartialDecryption)) {
            throw new IncompatibleCiphertextException(
                    "not a partial decryption of this backend: " + p.getClass().getName());
        }
        return (CkksPartialDecryption) p;
    }

    // ---------------------------------------------------------------- serialization

    @Override
    public byte[] serialize(PublicKeyShare share) {
        CkksPublicKeyShare p = checkShare(share);
        HeEnvelope env = he.envelope(HeEnvelope.Kind.PUBLIC_KEY_SHARE, p.shareId);
        ByteBuffer out = ByteBuffer.allocate(env.size() + Prg.SEED_BYTES + he.polyBytes());
        env.writeTo(out);
        out.put(p.commonSeed);
        he.packPoly(p.b, out);
        return out.array();
    }

    @Override
    public PublicKeyShare deserializePublicKeyShare(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = he.readEnvelope(in, HeEnvelope.Kind.PUBLIC_KEY_SHARE);
        try {
            byte[] seed = new byte[Prg.SEED_BYTES];
            in.get(seed);
            long[] b = he.unpackPoly(in);
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException(
                        in.remaining() + " unexpected bytes after the public key share");
            }
            if (!Arrays.equals(shareIdOf(seed, b), env.keyId())) {
                throw new MalformedCiphertextException(
                        "public key share does not match its share id "
                                + HeEnvelope.hex(env.keyId()));
            }
            return new CkksPublicKeyShare(he.parameterHash, env.keyId(), seed, b);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated public key share");
        }
    }

    @Override
    public byte[] serialize(SecretKeyShare share) {
        CkksSecretKeyShare s = checkShare(share);
        HeEnvelope env = he.envelope(HeEnvelope.Kind.SECRET_KEY_SHARE, s.shareId);
        ByteBuffer out = ByteBuffer.allocate(env.size() + Prg.SEED_BYTES + he.n);
        env.writeTo(out);
        out.put(s.commonSeed);
        out.put(s.ternary);
        return out.array();
    }

    @Override
    public SecretKeyShare deserializeSecretKeyShare(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = he.readEnvelope(in, HeEnvelope.Kind.SECRET_KEY_SHARE);
        if (in.remaining() != Prg.SEED_BYTES + he.n) {
            throw new MalformedCiphertextException(
                    "secret key share body has "
                            + in.remaining()
                            + " bytes, expected "
                            + (Prg.SEED_BYTES + he.n));
        }
        byte[] seed = new byte[Prg.SEED_BYTES];
        in.get(seed);
        byte[] ternary = new byte[he.n];
        in.get(ternary);
        int[] s = new int[he.n];
        for (int k = 0; k < he.n; k++) {
            if (ternary[k] < -1 || ternary[k] > 1) {
                throw new MalformedCiphertextException(
                        "secret key share coefficient " + k + " is out of {-1, 0, 1}");
            }
            s[k] = ternary[k];
        }
        long[] sNtt = he.ntt(he.basis.toResidues(s));
        return new CkksSecretKeyShare(
                he.parameterHash, env.keyId(), seed, ternary, sNtt, he.shoup(sNtt));
    }

    @Override
    public byte[] serialize(PartialDecryption part) {
        CkksPartialDecryption d = checkPart(part);
        HeEnvelope env = he.envelope(HeEnvelope.Kind.PARTIAL_DECRYPTION, d.shareId);
        ByteBuffer out =
                ByteBuffer.allocate(
                        env.size()
                                + HeEnvelope.KEY_ID_BYTES
                                + HeEnvelope.HASH_BYTES
                                + 4
                                + 1
                                + he.polyBytes());
        env.writeTo(out);
        out.put(d.keyId);
        out.put(d.digest);
        out.putInt(d.valueCount);
        out.put((byte) he.primeCount);
        he.packPoly(d.d, out);
        return out.array();
    }

    @Override
    public PartialDecryption deserializePartialDecryption(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        HeEnvelope env = he.readEnvelope(in, HeEnvelope.Kind.PARTIAL_DECRYPTION);
        try {
            byte[] keyId = new byte[HeEnvelope.KEY_ID_BYTES];
            in.get(keyId);
            byte[] digest = new byte[HeEnvelope.HASH_BYTES];
            in.get(digest);
            int count = in.getInt();
            if (count < 0 || count > he.n) {
                throw new MalformedCiphertextException(
                        "partial decryption claims " + count + " values; at most " + he.n + " fit");
            }
            int primes = in.get() & 0xff;
            if (primes != he.primeCount) {
                throw new MalformedCiphertextException(
                        "partial decryption has "
                                + primes
                                + " residue polynomials, expected "
                                + he.primeCount);
            }
            long[] d = he.unpackPoly(in);
            if (in.hasRemaining()) {
                throw new MalformedCiphertextException(
                        in.remaining() + " unexpected bytes after the partial decryption");
            }
            return new CkksPartialDecryption(
                    he.parameterHash, env.keyId(), keyId, digest, count, d);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated partial decryption");
        }
    }

    // ---------------------------------------------------------------- value types

    /** What every member's object carries: this backend, the parameters' hash, the member's id. */
    abstract static class MemberObject {
        final byte[] parameterHash;
        final byte[] shareId;

        MemberObject(byte[] parameterHash, byte[] shareId) {
            this.parameterHash = parameterHash;
            this.shareId = shareId;
        }

        public String backendId() {
            return JavaCkksContext.BACKEND_ID;
        }

        public byte[] parameterHash() {
            return parameterHash.clone();
        }

        public byte[] shareId() {
            return shareId.clone();
        }
    }

    /** b_i = -a·s_i + e_i (NTT domain) and the common seed of a. */
    static final class CkksPublicKeyShare extends MemberObject implements PublicKeyShare {
        final byte[] commonSeed;
        final long[] b;

        CkksPublicKeyShare(byte[] parameterHash, byte[] shareId, byte[] commonSeed, long[] b) {
            super(parameterHash, shareId);
            this.commonSeed = commonSeed;
            this.b = b;
        }

        @Override
        public byte[] commonSeed() {
            return commonSeed.clone();
        }

        @Override
        public String toString() {
            return "CkksPublicKeyShare{id=" + HeEnvelope.hex(shareId) + "}";
        }
    }

    /** s_i, ternary, and in the NTT domain with its Shoup factors. */
    static final class CkksSecretKeyShare extends MemberObject implements SecretKeyShare {
        final byte[] commonSeed;
        final byte[] ternary;
        final long[] s;
        final long[] sShoup;

        CkksSecretKeyShare(
                byte[] parameterHash,
                byte[] shareId,
                byte[] commonSeed,
                byte[] ternary,
                long[] s,
                long[] sShoup) {
            super(parameterHash, shareId);
            this.commonSeed = commonSeed;
            this.ternary = ternary;
            this.s = s;
            this.sShoup = sShoup;
        }

        @Override
        public byte[] commonSeed() {
            return commonSeed.clone();
        }

        @Override
        public String toString() {
            return "CkksSecretKeyShare{id=" + HeEnvelope.hex(shareId) + ", <secret>}";
        }
    }

    /** d_i = c1·s_i + e_i (NTT domain), bound to one ciphertext by its key id and digest. */
    static final class CkksPartialDecryption extends MemberObject implements PartialDecryption {
        final byte[] keyId;
        final byte[] digest;
        final int valueCount;
        final long[] d;

        CkksPartialDecryption(
                byte[] parameterHash,
                byte[] shareId,
                byte[] keyId,
                byte[] digest,
                int valueCount,
                long[] d) {
            super(parameterHash, shareId);
            this.keyId = keyId;
            this.digest = digest;
            this.valueCount = valueCount;
            this.d = d;
        }

        @Override
        public byte[] keyId() {
            return keyId.clone();
        }

        @Override
        public byte[] ciphertextDigest() {
            return digest.clone();
        }

        @Override
        public int valueCount() {
            return valueCount;
        }

        @Override
        public String toString() {
            return "CkksPartialDecryption{member="
                    + HeEnvelope.hex(shareId)
                    + ", key="
                    + HeEnvelope.hex(keyId)
                    + "}";
        }
    }

    /** s̃_j (NTT domain, uniform residues) with its evaluation point and threshold. */
    static final class CkksShamirShare extends MemberObject implements ShamirKeyShare {
        final byte[] keyId;
        final int index;
        final int threshold;
        final long[] s;
        final long[] sShoup;

        CkksShamirShare(
                byte[] parameterHash,
                byte[] shareId,
                byte[] keyId,
                int index,
                int threshold,
                long[] s,
                long[] sShoup) {
            super(parameterHash, shareId);
            this.keyId = keyId;
            this.index = index;
            this.threshold = threshold;
            this.s = s;
            this.sShoup = sShoup;
        }

        @Override
        public int index() {
            return index;
        }

        @Override
        public int threshold() {
            return threshold;
        }

        @Override
        public byte[] keyId() {
            return keyId.clone();
        }

        @Override
        public String toString() {
            return "CkksShamirShare{member="
                    + index
                    + ", t="
                    + threshold
                    + ", key="
                    + HeEnvelope.hex(keyId)
                    + ", <secret>}";
        }
    }

    /** The joint public key and the sorted member ids. */
    static final class CkksCommittee implements Committee {
        final CkksPublicKey jointKey;
        final List<String> memberIds;

        CkksCommittee(CkksPublicKey jointKey, List<String> memberIds) {
            this.jointKey = jointKey;
            this.memberIds = memberIds;
        }

        @Override
        public PublicKey jointKey() {
            return jointKey;
        }

        @Override
        public List<String> memberIds() {
            return memberIds;
        }

        @Override
        public String toString() {
            return "CkksCommittee{key="
                    + HeEnvelope.hex(jointKey.keyId)
                    + ", members="
                    + memberIds.size()
                    + "}";
        }
    }
}
