"""Timeouts, reconnection and transfer settings of a Learner."""

import os
from dataclasses import dataclass
from typing import Optional

from metisfl_learner.codec import MAX_CHUNK_BYTES_LIMIT


@dataclass(frozen=True)
class LearnerOptions:
    """Immutable; validated on creation. Durations in seconds. Defaults match the Java learner.

    call_timeout: deadline of each short call (join, evaluation report, leave). Join answers only
        after the gateway's next completed checkpoint, so keep it well above the checkpoint
        interval.
    transfer_timeout: deadline of a model download or an update upload, including the gateway's
        wait for the update to be checkpointed.
    stream_timeout: deadline of one task stream; when it expires the stream is reopened at once.
    reconnect_initial_backoff, reconnect_max_backoff: the backoff between reconnect attempts.
    max_reconnect_attempts: consecutive failed attempts before the learner gives up; None = never.
    max_chunk_bytes: upper bound of an upload chunk (also kept 64 KiB below the gateway's limit).
    keepalive_time: interval of HTTP/2 keepalive pings, also on an idle connection; the gateway
        permits 30 s.
    root_certificates: path of a PEM file with the CA certificate(s) the gateway's TLS
        certificate is verified against; None = the system's roots.
    certificate_chain, private_key: paths of the learner's PEM client certificate and key for
        mutual TLS; both or neither.
    enrollment_token: the operator-issued token Join sends when the federation admits learners by
        enrollment (`metisfl enroll create`); None = open admission.
    insecure: plaintext to a gateway that runs with `security.insecure: true` (development
        only); the TLS settings above must then be unset.
    """

    call_timeout: float = 30.0
    transfer_timeout: float = 300.0
    stream_timeout: float = 3600.0
    reconnect_initial_backoff: float = 0.5
    reconnect_max_backoff: float = 30.0
    max_reconnect_attempts: Optional[int] = None
    max_chunk_bytes: int = MAX_CHUNK_BYTES_LIMIT
    keepalive_time: float = 30.0
    root_certificates: Optional[str] = None
    certificate_chain: Optional[str] = None
    private_key: Optional[str] = None
    enrollment_token: Optional[str] = None
    insecure: bool = False

    def __post_init__(self):
        for name in (
            "call_timeout",
            "transfer_timeout",
            "stream_timeout",
            "reconnect_initial_backoff",
            "reconnect_max_backoff",
            "keepalive_time",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError("%s is %r but must be a positive number of seconds" % (name, value))
        if self.reconnect_max_backoff < self.reconnect_initial_backoff:
            raise ValueError(
                "reconnect_max_backoff (%r) is shorter than reconnect_initial_backoff (%r); raise"
                " reconnect_max_backoff or lower reconnect_initial_backoff"
                % (self.reconnect_max_backoff, self.reconnect_initial_backoff)
            )
        if self.max_reconnect_attempts is not None and self.max_reconnect_attempts < 1:
            raise ValueError(
                "max_reconnect_attempts is %r but must be at least 1; use None to keep trying"
                % self.max_reconnect_attempts
            )
        if not 1 <= self.max_chunk_bytes <= MAX_CHUNK_BYTES_LIMIT:
            raise ValueError(
                "max_chunk_bytes is %r but must be between 1 and %d (1 MiB); leave it unset for 1 MiB"
                % (self.max_chunk_bytes, MAX_CHUNK_BYTES_LIMIT)
            )
        if not isinstance(self.insecure, bool):
            raise ValueError("insecure is %r but must be True or False" % (self.insecure,))
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError(
                "certificate_chain and private_key go together (mutual TLS): set both or neither"
                " (certificate_chain=%r, private_key=%r)" % (self.certificate_chain, self.private_key)
            )
        tls = [
            n
            for n in ("root_certificates", "certificate_chain", "private_key")
            if getattr(self, n) is not None
        ]
        if self.insecure and tls:
            raise ValueError(
                "insecure=True (plaintext) contradicts the TLS setting(s) %s; drop insecure to"
                " connect with TLS, or the TLS settings to connect in plaintext" % ", ".join(tls)
            )
        for name in tls:
            path = getattr(self, name)
            if not isinstance(path, str) or not os.path.isfile(path):
                raise ValueError("%s is %r but must be the path of a readable PEM file" % (name, path))
        if self.enrollment_token is not None and (
            not isinstance(self.enrollment_token, str)
            or not self.enrollment_token.strip()
            or any(c.isspace() for c in self.enrollment_token)
        ):
            raise ValueError(
                "enrollment_token must be the token `metisfl enroll create` printed (one word, no"
                " spaces); use None for open admission"
            )

    def channel_credentials(self):
        """The grpc.ChannelCredentials of TLS (None when insecure): the CA, and the client
        certificate for mutual TLS, read from their files now."""
        if self.insecure:
            return None
        import grpc

        def read(path):
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.root_certificates),
            private_key=read(self.private_key),
            certificate_chain=read(self.certificate_chain),
        )
