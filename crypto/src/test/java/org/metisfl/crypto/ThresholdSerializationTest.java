package org.metisfl.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Threshold objects through the SPI: key shares and partial decryptions survive serialization and
 * still combine; bytes of another kind, backend or parameter set, truncated, extended or tampered
 * bytes, and partial decryptions that do not belong together are refused with a message naming the
 * reason.
 */
class ThresholdSerializationTest {

    private final HeContext he =
            HeBackends.context("metisfl-ckks", CkksParameters.THRESHOLD_PRESET);
    private final ThresholdHe th = he.threshold().orElseThrow();
    private final byte[] seed = th.newCommonSeed();
    private final List<KeyShare> members =
            List.of(
                    th.generateKeyShare(seed),
                    th.generateKeyShare(seed),
                    th.generateKeyShare(seed));
    private final Committee committee = th.combineKeyShares(publicShares(members));
    private final float[] x = {0.25f, -1f, 3.5f, 100f};
    private final Ciphertext ct = he.encrypt(committee.jointKey(), x, 0, x.length);

    private static List<PublicKeyShare> publicShares(List<KeyShare> ks) {
        List<PublicKeyShare> out = new ArrayList<>();
        for (KeyShare k : ks) {
            out.add(k.publicShare());
        }
        return out;
    }

    private List<PartialDecryption> partials(Ciphertext c) {
        List<PartialDecryption> out = new ArrayList<>();
        for (KeyShare k : members) {
            out.add(th.partialDecrypt(k.secretShare(), c, 1));
        }
        return out;
    }

    @Test
    void sharesAndPartialDecryptionsRoundTripAndStillCombine() {
        List<PublicKeyShare> pub = new ArrayList<>();
        List<PartialDecryption> parts = new ArrayList<>();
        for (KeyShare k : members) {
            byte[] p = th.serialize(k.publicShare());
            PublicKeyShare back = th.deserializePublicKeyShare(p);
            assertThat(th.serialize(back)).isEqualTo(p);
            assertThat(back.shareId()).isEqualTo(k.publicShare().shareId());
            assertThat(back.commonSeed()).isEqualTo(seed);
            pub.add(back);
            byte[] s = th.serialize(k.secretShare());
            SecretKeyShare sBack = th.deserializeSecretKeyShare(s);
            assertThat(th.serialize(sBack)).isEqualTo(s);
            assertThat(HeEnvelope.of(s).kind()).isEqualTo(HeEnvelope.Kind.SECRET_KEY_SHARE);
            byte[] d = th.serialize(th.partialDecrypt(sBack, ct, 1));
            PartialDecryption dBack = th.deserializePartialDecryption(d);
            assertThat(th.serialize(dBack)).isEqualTo(d);
            assertThat(dBack.shareId()).isEqualTo(k.publicShare().shareId());
            assertThat(dBack.keyId()).isEqualTo(ct.keyId());
            parts.add(dBack);
        }
        Committee again = th.combineKeyShares(pub);
        assertThat(again.jointKey().keyId()).isEqualTo(committee.jointKey().keyId());
        assertThat(again.memberIds()).isEqualTo(committee.memberIds());
        // the joint key is an ordinary public key on the wire
        PublicKey key = he.deserializePublicKey(he.serialize(committee.jointKey()));
        Ciphertext c2 = he.deserializeCiphertext(he.serialize(he.encrypt(key, x, 0, x.length)));
        double[] got = th.combine(again, ct, parts);
        double[] got2 = th.combine(committee, c2, partials(c2));
        for (int i = 0; i < x.length; i++) {
            assertThat(got[i]).isCloseTo(x[i], within(1e-7));
            assertThat(got2[i]).isCloseTo(x[i], within(1e-7));
        }
    }

    @Test
    void refusesBytesOfAnotherKindBackendOrParameters() {
        byte[] pub = th.serialize(members.get(0).publicShare());
        byte[] part = th.serialize(th.partialDecrypt(members.get(0).secretShare(), ct, 1));
        assertThatThrownBy(() -> th.deserializePartialDecryption(pub))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("expected a PARTIAL_DECRYPTION")
                .hasMessageContaining("PUBLIC_KEY_SHARE");
        assertThatThrownBy(() -> th.deserializeSecretKeyShare(pub))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("SECRET_KEY_SHARE");
        assertThatThrownBy(() -> he.deserializePublicKey(pub))
                .isInstanceOf(MalformedCiphertextException.class);

        byte[] foreign = part.clone();
        int at = indexOf(foreign, "metisfl-ckks".getBytes(StandardCharsets.US_ASCII));
        foreign[at + 11] = 'z';
        assertThatThrownBy(() -> th.deserializePartialDecryption(foreign))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("backend 'metisfl-ckkz'");

        HeContext other = HeBackends.context("metisfl-ckks", "n13-q180");
        ThresholdHe otherTh = other.threshold().orElseThrow();
        KeyShare stranger = otherTh.generateKeyShare(otherTh.newCommonSeed());
        assertThatThrownBy(
                        () ->
                                th.deserializePublicKeyShare(
                                        otherTh.serialize(stranger.publicShare())))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("wrong parameters");
        assertThatThrownBy(() -> th.partialDecrypt(stranger.secretShare(), ct, 1))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("secret key share");
        assertThatThrownBy(() -> th.combineKeyShares(List.of(stranger.publicShare())))
                .isInstanceOf(IncompatibleCiphertextException.class);
    }

    @Test
    void refusesTruncatedExtendedAndTamperedBytes() {
        byte[] pub = th.serialize(members.get(0).publicShare());
        byte[] sec = th.serialize(members.get(0).secretShare());
        byte[] part = th.serialize(th.partialDecrypt(members.get(0).secretShare(), ct, 1));
        for (byte[] b : List.of(pub, sec, part)) {
            byte[] cut = Arrays.copyOf(b, b.length - 5);
            byte[] longer = Arrays.copyOf(b, b.length + 1);
            for (byte[] bad : List.of(cut, longer)) {
                assertThatThrownBy(
                                () -> {
                                    switch (HeEnvelope.of(b).kind()) {
                                        case PUBLIC_KEY_SHARE -> th.deserializePublicKeyShare(bad);
                                        case SECRET_KEY_SHARE -> th.deserializeSecretKeyShare(bad);
                                        default -> th.deserializePartialDecryption(bad);
                                    }
                                })
                        .isInstanceOf(MalformedCiphertextException.class)
                        .hasMessageMatching(".*(truncated|unexpected bytes|body has).*");
            }
        }
        byte[] tampered = pub.clone();
        tampered[tampered.length - 100] ^= 1;
        assertThatThrownBy(() -> th.deserializePublicKeyShare(tampered))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageMatching(".*(does not match its share id|not below its prime).*");
        byte[] notTernary = sec.clone();
        notTernary[notTernary.length - 1] = 2;
        assertThatThrownBy(() -> th.deserializeSecretKeyShare(notTernary))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("out of {-1, 0, 1}");
        byte[] tooMany = part.clone();
        int countAt = HeEnvelope.of(part).size() + HeEnvelope.KEY_ID_BYTES + HeEnvelope.HASH_BYTES;
        tooMany[countAt] = 0x7f;
        assertThatThrownBy(() -> th.deserializePartialDecryption(tooMany))
                .isInstanceOf(MalformedCiphertextException.class)
                .hasMessageContaining("values; at most 8192");
    }

    @Test
    void combineRefusesMissingDuplicateStrangeAndMismatchedPartialDecryptions() {
        List<PartialDecryption> parts = partials(ct);
        assertThatThrownBy(() -> th.combine(committee, ct, parts.subList(1, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("every committee member")
                .hasMessageContaining("1 of 3 missing");
        assertThatThrownBy(
                        () ->
                                th.combine(
                                        committee,
                                        ct,
                                        List.of(parts.get(0), parts.get(0), parts.get(1))))
                .hasMessageContaining("two partial decryptions from member");
        KeyShare outsider = th.generateKeyShare(seed);
        List<PartialDecryption> withOutsider = new ArrayList<>(parts);
        withOutsider.add(th.partialDecrypt(outsider.secretShare(), ct, 1));
        assertThatThrownBy(() -> th.combine(committee, ct, withOutsider))
                .hasMessageContaining("not a member of this committee");
        Ciphertext other = he.encrypt(committee.jointKey(), x, 0, x.length);
        List<PartialDecryption> mixed = new ArrayList<>(parts.subList(0, 2));
        mixed.add(th.partialDecrypt(members.get(2).secretShare(), other, 1));
        assertThatThrownBy(() -> th.combine(committee, ct, mixed))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("of another ciphertext");
        Ciphertext underOtherKey = he.encrypt(he.generateKeys().publicKey(), x, 0, x.length);
        assertThatThrownBy(() -> th.combine(committee, underOtherKey, parts))
                .isInstanceOf(IncompatibleCiphertextException.class)
                .hasMessageContaining("not under this committee's joint key");
        KeyShare otherSeed = th.generateKeyShare(th.newCommonSeed());
        assertThatThrownBy(
                        () ->
                                th.combineKeyShares(
                                        List.of(
                                                members.get(0).publicShare(),
                                                otherSeed.publicShare())))
                .hasMessageContaining("different common seeds");
        assertThatThrownBy(
                        () ->
                                th.combineKeyShares(
                                        List.of(
                                                members.get(0).publicShare(),
                                                members.get(0).publicShare())))
                .hasMessageContaining("given twice");
        assertThatThrownBy(() -> th.combineKeyShares(List.of()))
                .hasMessageContaining("at least one");
        assertThatThrownBy(() -> th.generateKeyShare(new byte[5])).hasMessageContaining("32 bytes");
        assertThatThrownBy(() -> th.partialDecrypt(members.get(0).secretShare(), ct, Double.NaN))
                .hasMessageContaining("weight sum");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
