package org.metisfl.learner.internal;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.metisfl.crypto.HeContext;
import org.metisfl.crypto.KeyShare;
import org.metisfl.crypto.PublicKeyShare;
import org.metisfl.crypto.SecretKeyShare;
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
public final class CommitteeMember {

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
    public CommitteeMember(Path dir, HeContext he, String preset) {
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

    /** The public part of a member's key share, and the member id it gives the member. */
    public record PublicPart(byte[] bytes, String memberId) {}

    /**
     * The key-share task of a committee epoch: generates this member's share for the common seed,
     * writes the secret part to disk before anything leaves the learner, and returns the public
     * part to upload. If the share of this epoch and seed is already on disk (the task came again,
     * e.g. after a restart), returns its public part without generating another.
     *
     * @throws ShareFileException if the directory already holds a share of this epoch for another
     *     committee or other parameters, or cannot be written
     */
    public synchronized PublicPart keyShare(long epoch, byte[] commonSeed) {
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
            loaded.put(epoch, existing.secret);
            return new PublicPart(existing.publicShare, existing.memberId);
        }
        KeyShare share = shards.threshold().generateKeyShare(commonSeed);
        byte[] secret = shards.threshold().serialize(share.secretShare());
        byte[] pub = shards.threshold().serialize(share.publicShare());
        String memberId = ThresholdShards.memberId(share.publicShare());
        try {
            ThresholdShards.writeSecret(secretFile(epoch), secret);
            Properties p = new Properties();
            p.setProperty("epoch", Long.toString(epoch));
            p.setProperty("backend", he.backendId());
            p.setProperty("preset", preset);
            p.setProperty("parameter-hash", HexFormat.of().formatHex(he.parameterHash()));
            p.setProperty("common-seed", HexFormat.of().formatHex(commonSeed));
            p.setProperty("member-id", memberId);
            p.setProperty("public-share", Base64.getEncoder().encodeToString(pub));
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
        } catch (IOException e) {
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
        return new PublicPart(pub, memberId);
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
                            + members.stream().map(CommitteeMember::abbreviate).toList()
                            + "): the file belongs to another committee; give this learner the"
                            + " share directory it keyed this committee with");
        }
        return share;
    }

    private record ShareOnDisk(
            SecretKeyShare secret, byte[] seed, byte[] publicShare, String memberId) {}

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
        return new ShareOnDisk(secret, seed, pub, ThresholdShards.memberId(publicShare));
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
