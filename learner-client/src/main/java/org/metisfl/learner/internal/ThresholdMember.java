package org.metisfl.learner.internal;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.metisfl.crypto.Committee;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.SecretKeyShare;
import org.metisfl.crypto.ShamirKeyShare;
import org.metisfl.crypto.ThresholdShards;

/**
 * A learner's side of a threshold-CKKS committee: it generates its key share for a committee epoch,
 * keeps the secret part on disk (owner-only, never overwritten, so that a restarted member still
 * answers the committee's decryptions), hands out the public part, and turns shards of the
 * encrypted global model into its partial decryptions.
 *
 * <p>Per epoch the share directory holds two files: {@code threshold-epoch-<e>.share}, the secret
 * share ({@link ThresholdShards#writeSecret}), and {@code threshold-epoch-<e>.properties}, what the
 * share belongs to (epoch, backend, preset, parameter hash, common seed, share id) and the public
 * share, so that the same public share can be uploaded again after a restart. A file of another
 * committee (common seed), epoch or parameters is refused with a {@link ShareFileException} naming
 * the file, the difference and the fix; it is never overwritten.
 */
public final class ThresholdMember {

    private final Path dir;
    private final HeContext he;
    private final ThresholdShards shards;
    private final String preset;
    private final Map<Long, SecretKeyShare> loaded = new HashMap<>();

    /**
     * @param dir the member's share directory (created on the first share)
     * @param he the federation's backend and parameters
     * @param preset the parameters' preset name, recorded with each share
     */
    public ThresholdMember(Path dir, HeContext he, String preset) {
        this.dir = dir;
        this.he = he;
        this.shards = ThresholdShards.of(he);
        this.preset = preset;
    }

    public Path directory() {
        return dir;
    }

    /** The secret share's file of an epoch. */
    public Path secretFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".share");
    }

    /** The description and public share of an epoch. */
    public Path publicFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".properties");
    }

    /** The transport key pair's private key of an epoch (t-out-of-n only). */
    public Path transportFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".transport");
    }

    /** This member's own Shamir dealing of an epoch, kept until it has its Shamir share. */
    public Path ownDealingFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".own-dealing");
    }

    /** The sealed dealings this member sent, to send the same ones again. */
    public Path sentDealingsFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".dealings.properties");
    }

    /** This member's Shamir share of an epoch (t-out-of-n). */
    public Path shamirFile(long epoch) {
        return dir.resolve("threshold-epoch-" + epoch + ".shamir");
    }

    /**
     * The public part of a member's key share, the member id it gives the member, and (t-out-of-n)
     * the public half of its transport key pair (X.509 DER), else null.
     */
    public record PublicPart(byte[] bytes, String memberId, byte[] transportPublicKey) {}

    /**
     * The key-share task of a committee epoch: generates this member's share for the common seed,
     * writes the secret part to disk before anything leaves the learner, and returns the public
     * part to upload. With {@code transport} (t-out-of-n) it also makes an X25519 key pair that
     * other members seal their Shamir dealings to. If the share of this epoch and seed is already
     * on disk (the task came again, e.g. after a restart), returns its public part without
     * generating another.
     *
     * @throws ShareFileException if the directory already holds a share of this epoch for another
     *     committee or other parameters, or cannot be written
     */
    public synchronized PublicPart keyShare(long epoch, byte[] commonSeed, boolean transport) {
        if (Files.exists(secretFile(epoch)) || Files.exists(publicFile(epoch))) {
            ShareOnDisk existing = read(epoch);
            if (!Arrays.equals(existing.seed, commonSeed)) {
                throw new ShareFileException(
                        secretFile(epoch)
                                + " holds this learner's key share of committee epoch "
                                + epoch
                                + " for common seed "
                                + abbreviate(HexFormat.of().formatHex(existing.seed))
                                + ", but the federation keys epoch "
                                + epoch
                                + " with seed "
                                + abbreviate(HexFormat.of().formatHex(commonSeed))
                                + ": it belongs to another committee (another federation, or one"
                                + " started afresh). Give this learner a share directory of its"
                                + " own per federation, or move the old files away if that"
                                + " committee is gone for good (models encrypted under its key can"
                                + " then no longer be decrypted)");
            }
            if (transport && existing.transportPublicKey == null) {
                throw new ShareFileException(
                        publicFile(epoch)
                                + " describes an n-out-of-n key share (no transport key), but the"
                                + " federation keys epoch "
                                + epoch
                                + " for t-out-of-n: the share directory belongs to another"
                                + " committee; give this learner a share directory of its own per"
                                + " federation");
            }
            loaded.put(epoch, existing.secret);
            return new PublicPart(
                    existing.publicShare,
                    existing.memberId,
                    transport ? existing.transportPublicKey : null);
        }
        KeyShare share = shards.threshold().generateKeyShare(commonSeed);
        byte[] secret = shards.threshold().serialize(share.secretShare());
        byte[] pub = shards.threshold().serialize(share.publicShare());
        String memberId = ThresholdShards.memberId(share.publicShare());
        byte[] transportPublic = null;
        try {
            ThresholdShards.writeSecret(secretFile(epoch), secret);
            if (transport) {
                KeyPair kp = KeyPairGenerator.getInstance("X25519").generateKeyPair();
                writeOwnerOnly(transportFile(epoch), kp.getPrivate().getEncoded());
                transportPublic = kp.getPublic().getEncoded();
            }
            Properties p = new Properties();
            p.setProperty("epoch", Long.toString(epoch));
            p.setProperty("backend", he.backendId());
            p.setProperty("preset", preset);
            p.setProperty("parameter-hash", HexFormat.of().formatHex(he.parameterHash()));
            p.setProperty("common-seed", HexFormat.of().formatHex(commonSeed));
            p.setProperty("member-id", memberId);
            p.setProperty("public-share", Base64.getEncoder().encodeToString(pub));
            if (transportPublic != null) {
                p.setProperty(
                        "transport-public-key",
                        Base64.getEncoder().encodeToString(transportPublic));
            }
            try (Writer out =
                    Files.newBufferedWriter(publicFile(epoch), StandardOpenOption.CREATE_NEW)) {
                p.store(
                        out,
                        "MetisFL threshold committee member: the public part of this learner's key"
                                + " share (the secret part is in "
                                + secretFile(epoch).getFileName()
                                + ")");
            }
        } catch (FileAlreadyExistsException e) {
            throw new ShareFileException(
                    e.getFile()
                            + " appeared while this learner wrote its key share of epoch "
                            + epoch
                            + ": is another learner using the same share directory? Give each"
                            + " learner its own",
                    e);
        } catch (IOException | GeneralSecurityException e) {
            throw new ShareFileException(
                    "cannot write this learner's key share of committee epoch "
                            + epoch
                            + " to "
                            + dir
                            + ": "
                            + e
                            + "; a committee member must keep its share on disk (check the"
                            + " directory's permissions and free space)",
                    e);
        }
        loaded.put(epoch, share.secretShare());
        return new PublicPart(pub, memberId, transportPublic);
    }

    /** As {@link #keyShare(long, byte[], boolean)} for n-out-of-n (no transport key). */
    public PublicPart keyShare(long epoch, byte[] commonSeed) {
        return keyShare(epoch, commonSeed, false);
    }

    /** A committee member as the gateway describes it: learner id, share id, transport key. */
    public record Member(String learnerId, String shareId, byte[] transportPublicKey) {}

    /** A Shamir dealing sealed from one member to another (opaque to the job). */
    public record Sealed(String from, String to, byte[] sealed) {}

    /**
     * t-out-of-n setup, step 1: deals this member's share to every member ({@link
     * org.metisfl.crypto.ThresholdHe#dealShamirShares}), keeps its own dealing on disk, and seals
     * each other member's dealing to that member's transport key. If it has dealt this epoch
     * before, returns the same sealed dealings (a second, different dealing would not combine with
     * the first one's recipients).
     *
     * @param me this learner's id (the sender of the dealings)
     * @param members the committee, any order, this member among them
     */
    public synchronized List<Sealed> deal(
            long epoch, Committee committee, int threshold, String me, List<Member> members) {
        SecretKeyShare own = share(epoch, committee.memberIds());
        String myShareId = HexFormat.of().formatHex(own.shareId());
        if (Files.exists(sentDealingsFile(epoch))) {
            Properties p = loadProperties(sentDealingsFile(epoch));
            List<Sealed> out = new ArrayList<>();
            for (String key : p.stringPropertyNames()) {
                if (key.startsWith("to.")) {
                    out.add(
                            new Sealed(
                                    p.getProperty("from"),
                                    key.substring(3),
                                    Base64.getDecoder().decode(p.getProperty(key))));
                }
            }
            return out;
        }
        List<byte[]> dealings = shards.threshold().dealShamirShares(own, committee, threshold);
        PrivateKey transport = transportPrivateKey(epoch);
        List<Sealed> out = new ArrayList<>();
        byte[] mine = null;
        for (int j = 0; j < committee.memberIds().size(); j++) {
            String shareId = committee.memberIds().get(j);
            if (shareId.equals(myShareId)) {
                mine = dealings.get(j);
                continue;
            }
            Member to = byShareId(members, shareId);
            out.add(
                    new Sealed(
                            me,
                            to.learnerId(),
                            seal(
                                    transport,
                                    to.transportPublicKey(),
                                    me,
                                    to.learnerId(),
                                    epoch,
                                    dealings.get(j))));
        }
        if (mine == null) {
            throw new ShareFileException(
                    "this learner's key share "
                            + abbreviate(myShareId)
                            + " is not a member of committee epoch "
                            + epoch);
        }
        Properties p = new Properties();
        p.setProperty("from", me);
        for (Sealed s : out) {
            p.setProperty("to." + s.to(), Base64.getEncoder().encodeToString(s.sealed()));
        }
        try {
            writeOwnerOnly(ownDealingFile(epoch), mine);
            try (Writer w =
                    Files.newBufferedWriter(
                            sentDealingsFile(epoch), StandardOpenOption.CREATE_NEW)) {
                p.store(w, "MetisFL: the sealed Shamir dealings this member sent");
            }
        } catch (IOException e) {
            throw new ShareFileException(
                    "cannot keep this learner's Shamir dealing of epoch " + epoch + ": " + e, e);
        }
        return out;
    }

    /**
     * t-out-of-n setup, step 2: opens the dealings sealed to this member, adds its own, combines
     * them into its Shamir share ({@link org.metisfl.crypto.ThresholdHe#combineDealings}) and keeps
     * it on disk. Nothing happens if the Shamir share of the epoch is already there.
     *
     * @param members the committee (for the senders' transport keys)
     */
    public synchronized void combineDealings(
            long epoch,
            Committee committee,
            int threshold,
            List<Sealed> received,
            List<Member> members) {
        if (Files.exists(shamirFile(epoch))) {
            return;
        }
        SecretKeyShare own = share(epoch, committee.memberIds());
        PrivateKey transport = transportPrivateKey(epoch);
        List<byte[]> all = new ArrayList<>();
        try {
            all.add(Files.readAllBytes(ownDealingFile(epoch)));
        } catch (IOException e) {
            throw new ShareFileException(
                    "this learner's own Shamir dealing of epoch "
                            + epoch
                            + " is gone ("
                            + ownDealingFile(epoch)
                            + "): "
                            + e
                            + "; restart it with the share directory it dealt from",
                    e);
        }
        for (Sealed s : received) {
            Member from = byLearnerId(members, s.from());
            all.add(
                    open(
                            transport,
                            from.transportPublicKey(),
                            s.from(),
                            s.to(),
                            epoch,
                            s.sealed()));
        }
        ShamirKeyShare shamir = shards.threshold().combineDealings(own, committee, threshold, all);
        try {
            ThresholdShards.writeSecret(shamirFile(epoch), shards.threshold().serialize(shamir));
            Files.deleteIfExists(ownDealingFile(epoch));
        } catch (IOException e) {
            throw new ShareFileException(
                    "cannot write this learner's Shamir share of epoch "
                            + epoch
                            + " to "
                            + shamirFile(epoch)
                            + ": "
                            + e,
                    e);
        }
    }

    /** Whether this member holds its Shamir share of an epoch (t-out-of-n set up). */
    public boolean hasShamirShare(long epoch) {
        return Files.exists(shamirFile(epoch));
    }

    /**
     * t-out-of-n: this member's partial decryptions of one shard for an answering set (the list
     * exactly as the task sent it).
     */
    public byte[] partialDecryptShard(
            long epoch, Committee committee, List<String> answering, byte[] shard) {
        ShamirKeyShare shamir;
        try {
            shamir = shards.loadShamirShare(shamirFile(epoch));
        } catch (IOException e) {
            throw new ShareFileException(
                    "this learner has no Shamir share of committee epoch "
                            + epoch
                            + " ("
                            + shamirFile(epoch)
                            + ": "
                            + e
                            + "); restart it with the share directory it keyed the committee"
                            + " with",
                    e);
        }
        return shards.partialDecryptShard(shamir, committee, shard, answering);
    }

    private static Member byShareId(List<Member> members, String shareId) {
        for (Member m : members) {
            if (m.shareId().equals(shareId)) {
                return m;
            }
        }
        throw new IllegalArgumentException(
                "the committee's description names no learner for member " + abbreviate(shareId));
    }

    private static Member byLearnerId(List<Member> members, String learnerId) {
        for (Member m : members) {
            if (m.learnerId().equals(learnerId)) {
                return m;
            }
        }
        throw new IllegalArgumentException(
                "a dealing comes from learner " + learnerId + ", who is not on the committee");
    }

    private PrivateKey transportPrivateKey(long epoch) {
        try {
            return KeyFactory.getInstance("X25519")
                    .generatePrivate(
                            new PKCS8EncodedKeySpec(Files.readAllBytes(transportFile(epoch))));
        } catch (IOException | GeneralSecurityException e) {
            throw new ShareFileException(
                    "this learner's transport key of committee epoch "
                            + epoch
                            + " cannot be read ("
                            + transportFile(epoch)
                            + ": "
                            + e
                            + "); restart it with the share directory it keyed the committee"
                            + " with",
                    e);
        }
    }

    /**
     * Seals a dealing: X25519 agreement of the sender's transport key and the recipient's public
     * key, AES-256-GCM keyed by SHA-256 of ("metisfl-dealing", the agreed secret, sender,
     * recipient, epoch), each length-prefixed; the same context is the associated data; a random
     * 12-byte IV goes first.
     */
    static byte[] seal(
            PrivateKey mine, byte[] theirs, String from, String to, long epoch, byte[] plain) {
        try {
            byte[] iv = new byte[12];
            new SecureRandom().nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            byte[] context = context(from, to, epoch);
            c.init(
                    Cipher.ENCRYPT_MODE,
                    new SecretKeySpec(dealingKey(mine, theirs, context), "AES"),
                    new GCMParameterSpec(128, iv));
            c.updateAAD(context);
            byte[] body = c.doFinal(plain);
            return ByteBuffer.allocate(iv.length + body.length).put(iv).put(body).array();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal a dealing to " + to + ": " + e, e);
        }
    }

    /**
     * Opens a dealing {@link #seal sealed} to this member.
     *
     * @throws IllegalArgumentException if it was not sealed by that sender to this member
     */
    static byte[] open(
            PrivateKey mine, byte[] theirs, String from, String to, long epoch, byte[] sealed) {
        try {
            if (sealed.length < 12 + 16) {
                throw new IllegalArgumentException(
                        "a sealed dealing of " + sealed.length + " bytes");
            }
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            byte[] context = context(from, to, epoch);
            c.init(
                    Cipher.DECRYPT_MODE,
                    new SecretKeySpec(dealingKey(mine, theirs, context), "AES"),
                    new GCMParameterSpec(128, sealed, 0, 12));
            c.updateAAD(context);
            return c.doFinal(sealed, 12, sealed.length - 12);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(
                    "the dealing from learner "
                            + from
                            + " to "
                            + to
                            + " of epoch "
                            + epoch
                            + " does not open with this member's transport key ("
                            + e.getMessage()
                            + "): it was sealed to another key",
                    e);
        }
    }

    private static byte[] dealingKey(PrivateKey mine, byte[] theirs, byte[] context)
            throws GeneralSecurityException {
        KeyAgreement ka = KeyAgreement.getInstance("X25519");
        ka.init(mine);
        ka.doPhase(
                KeyFactory.getInstance("X25519").generatePublic(new X509EncodedKeySpec(theirs)),
                true);
        byte[] secret = ka.generateSecret();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(lengthPrefixed("metisfl-dealing".getBytes(StandardCharsets.UTF_8)));
        sha.update(lengthPrefixed(secret));
        sha.update(context);
        return sha.digest();
    }

    private static byte[] context(String from, String to, long epoch) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.write(lengthPrefixed(from.getBytes(StandardCharsets.UTF_8)));
            out.write(lengthPrefixed(to.getBytes(StandardCharsets.UTF_8)));
            out.writeLong(epoch);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] lengthPrefixed(byte[] b) {
        return ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array();
    }

    private static void writeOwnerOnly(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        try {
            Files.createFile(
                    file,
                    PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file);
        }
        Files.write(file, bytes, StandardOpenOption.TRUNCATE_EXISTING);
    }

    private static Properties loadProperties(Path file) {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file)) {
            p.load(in);
        } catch (IOException e) {
            throw new ShareFileException("cannot read " + file + ": " + e, e);
        }
        return p;
    }

    /** This member's id in the committee of an epoch (its share id, hex). */
    public synchronized String memberId(long epoch) {
        return read(epoch).memberId;
    }

    /**
     * This member's partial decryptions of one shard of the encrypted global model (one per
     * ciphertext, the weight sum echoed), with the share of {@code epoch}.
     *
     * @param members the committee's member ids if the task names them (checked to include this
     *     member), or an empty list
     * @throws ShareFileException if the share of the epoch is missing or not this committee's
     * @throws IllegalArgumentException if the shard is no shard of ciphertexts of these parameters
     */
    public byte[] partialDecryptShard(long epoch, List<String> members, byte[] shard) {
        SecretKeyShare share = share(epoch, members);
        return shards.partialDecryptShard(share, shard);
    }

    /** The secret share of an epoch, checked against the committee's member ids if given. */
    public synchronized SecretKeyShare share(long epoch, List<String> members) {
        SecretKeyShare share = loaded.get(epoch);
        if (share == null) {
            share = read(epoch).secret;
            loaded.put(epoch, share);
        }
        String id = HexFormat.of().formatHex(share.shareId());
        if (!members.isEmpty() && !members.contains(id)) {
            throw new ShareFileException(
                    secretFile(epoch)
                            + " holds key share "
                            + abbreviate(id)
                            + ", which is not a member of committee epoch "
                            + epoch
                            + " (members "
                            + members.stream().map(ThresholdMember::abbreviate).toList()
                            + "): the file belongs to another committee; give this learner the"
                            + " share directory it keyed this committee with");
        }
        return share;
    }

    private record ShareOnDisk(
            SecretKeyShare secret,
            byte[] seed,
            byte[] publicShare,
            String memberId,
            byte[] transportPublicKey) {}

    private ShareOnDisk read(long epoch) {
        Path secretFile = secretFile(epoch);
        Path publicFile = publicFile(epoch);
        if (!Files.exists(secretFile)) {
            throw new ShareFileException(
                    "this learner has no key share of committee epoch "
                            + epoch
                            + " ("
                            + secretFile
                            + " is missing"
                            + (Files.exists(publicFile) ? ", only " + publicFile + " is there" : "")
                            + "): it was started with another share directory, or the file was"
                            + " lost; without it the committee cannot decrypt models of this"
                            + " epoch. Restart the learner with the share directory it keyed the"
                            + " committee with");
        }
        if (!Files.exists(publicFile)) {
            throw new ShareFileException(
                    publicFile
                            + " is missing next to "
                            + secretFile
                            + ": restore it from where the share directory was copied");
        }
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(publicFile)) {
            p.load(in);
        } catch (IOException e) {
            throw new ShareFileException("cannot read " + publicFile + ": " + e, e);
        }
        String hash = HexFormat.of().formatHex(he.parameterHash());
        if (!hash.equals(p.getProperty("parameter-hash"))
                || !he.backendId().equals(p.getProperty("backend"))) {
            throw new ShareFileException(
                    secretFile
                            + " is a key share for backend "
                            + p.getProperty("backend")
                            + ", preset "
                            + p.getProperty("preset")
                            + " (parameter hash "
                            + abbreviate(p.getProperty("parameter-hash", ""))
                            + "), but the federation uses "
                            + he.backendId()
                            + " "
                            + preset
                            + " ("
                            + abbreviate(hash)
                            + "): it belongs to another federation; give this learner a share"
                            + " directory of its own per federation");
        }
        if (!Long.toString(epoch).equals(p.getProperty("epoch"))) {
            throw new ShareFileException(
                    publicFile
                            + " describes the key share of committee epoch "
                            + p.getProperty("epoch")
                            + ", not "
                            + epoch
                            + ": the share directory's files were renamed or mixed up");
        }
        SecretKeyShare secret;
        byte[] seed;
        byte[] pub;
        try {
            secret = shards.loadSecretShare(secretFile);
            seed = HexFormat.of().parseHex(p.getProperty("common-seed", ""));
            pub = Base64.getDecoder().decode(p.getProperty("public-share", ""));
        } catch (IOException | RuntimeException e) {
            throw new ShareFileException(
                    "cannot read this learner's key share of committee epoch "
                            + epoch
                            + " from "
                            + dir
                            + ": "
                            + e.getMessage(),
                    e);
        }
        PublicKeyShare publicShare;
        try {
            publicShare = shards.threshold().deserializePublicKeyShare(pub);
        } catch (RuntimeException e) {
            throw new ShareFileException(
                    publicFile + " holds no valid public key share: " + e.getMessage(), e);
        }
        if (!Arrays.equals(secret.shareId(), publicShare.shareId())
                || !Arrays.equals(secret.commonSeed(), seed)) {
            throw new ShareFileException(
                    secretFile
                            + " and "
                            + publicFile
                            + " are not the two halves of one key share (share ids or common"
                            + " seeds differ): the share directory's files were mixed up");
        }
        String transport = p.getProperty("transport-public-key");
        return new ShareOnDisk(
                secret,
                seed,
                pub,
                ThresholdShards.memberId(publicShare),
                transport == null ? null : Base64.getDecoder().decode(transport));
    }

    private static String abbreviate(String hex) {
        return hex.length() > 12 ? hex.substring(0, 12) + "…" : hex;
    }

    /** A share file that is missing, unreadable, or not this committee's. */
    public static final class ShareFileException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        ShareFileException(String message) {
            super(message);
        }

        ShareFileException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
