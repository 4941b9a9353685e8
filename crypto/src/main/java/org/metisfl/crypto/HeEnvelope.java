package org.metisfl.crypto;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * The header every backend writes in front of a serialized ciphertext or key, so that anyone (the
 * controller included) can tell the backend, the parameters and the key pair of some bytes without
 * the backend:
 *
 * <pre>
 * magic "MFHE" | version u8 (1) | kind u8 | backend id: u8 length + ASCII |
 * parameter hash: 32 bytes | key id: 16 bytes | body ...
 * </pre>
 */
public record HeEnvelope(Kind kind, String backendId, byte[] parameterHash, byte[] keyId) {

    public static final int MAGIC = 0x4D464845; // "MFHE"
    public static final int VERSION = 1;
    public static final int HASH_BYTES = 32;
    public static final int KEY_ID_BYTES = 16;

    /** What the bytes hold. */
    public enum Kind {
        CIPHERTEXT,
        PUBLIC_KEY,
        SECRET_KEY,
        /** Threshold mode: a member's public key share. */
        PUBLIC_KEY_SHARE,
        /** Threshold mode: a member's secret key share. */
        SECRET_KEY_SHARE,
        /** Threshold mode: a member's partial decryption of one ciphertext. */
        PARTIAL_DECRYPTION,
        /** t-out-of-n: one member's Shamir dealing of its share, addressed to one member. */
        SHAMIR_DEALING,
        /** t-out-of-n: a member's Shamir share of the joint secret. */
        SHAMIR_KEY_SHARE
    }

    public HeEnvelope {
        if (parameterHash.length != HASH_BYTES || keyId.length != KEY_ID_BYTES) {
            throw new IllegalArgumentException("hash must be 32 bytes and key id 16 bytes");
        }
        if (backendId.isEmpty() || backendId.length() > 255) {
            throw new IllegalArgumentException("backend id must have 1 to 255 characters");
        }
    }

    /** The header's size in bytes. */
    public int size() {
        return 4 + 1 + 1 + 1 + backendId.length() + HASH_BYTES + KEY_ID_BYTES;
    }

    public void writeTo(ByteBuffer out) {
        out.putInt(MAGIC);
        out.put((byte) VERSION);
        out.put((byte) kind.ordinal());
        byte[] id = backendId.getBytes(StandardCharsets.US_ASCII);
        out.put((byte) id.length);
        out.put(id);
        out.put(parameterHash);
        out.put(keyId);
    }

    /**
     * Reads a header and leaves {@code in} at the start of the body.
     *
     * @throws MalformedCiphertextException if the bytes do not start with a valid header
     */
    public static HeEnvelope readFrom(ByteBuffer in) {
        try {
            int magic = in.getInt();
            if (magic != MAGIC) {
                throw new MalformedCiphertextException(
                        "not MetisFL HE bytes: magic " + Integer.toHexString(magic));
            }
            int version = in.get() & 0xff;
            if (version != VERSION) {
                throw new MalformedCiphertextException(
                        "unsupported HE format version "
                                + version
                                + " (this build reads "
                                + VERSION
                                + ")");
            }
            int kind = in.get() & 0xff;
            if (kind >= Kind.values().length) {
                throw new MalformedCiphertextException("unknown HE object kind " + kind);
            }
            int idLen = in.get() & 0xff;
            if (idLen == 0) {
                throw new MalformedCiphertextException("empty backend id");
            }
            byte[] id = new byte[idLen];
            in.get(id);
            byte[] hash = new byte[HASH_BYTES];
            in.get(hash);
            byte[] keyId = new byte[KEY_ID_BYTES];
            in.get(keyId);
            return new HeEnvelope(
                    Kind.values()[kind], new String(id, StandardCharsets.US_ASCII), hash, keyId);
        } catch (BufferUnderflowException e) {
            throw new MalformedCiphertextException("truncated HE header");
        }
    }

    /** Reads the header of serialized bytes. */
    public static HeEnvelope of(byte[] bytes) {
        return readFrom(ByteBuffer.wrap(bytes));
    }

    /** A short hex form for messages. */
    public static String hex(byte[] b) {
        return HexFormat.of().formatHex(b, 0, Math.min(8, b.length));
    }
}
