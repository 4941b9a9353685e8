"""Timeouts, reconnection and transfer settings of a Learner."""

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
    """

    call_timeout: float = 30.0
    transfer_timeout: float = 300.0
    stream_timeout: float = 3600.0
    reconnect_initial_backoff: float = 0.5
    reconnect_max_backoff: float = 30.0
    max_reconnect_attempts: Optional[int] = None
    max_chunk_bytes: int = MAX_CHUNK_BYTES_LIMIT
    keepalive_time: float = 30.0

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
