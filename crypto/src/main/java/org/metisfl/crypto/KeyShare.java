package org.metisfl.crypto;

/** A committee member's key share: the public part to publish and the secret part to keep. */
public record KeyShare(PublicKeyShare publicShare, SecretKeyShare secretShare) {}
