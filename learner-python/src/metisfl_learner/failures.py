"""The one place that decides what a learner does about a failed gateway call."""

import enum

import grpc


class Kind(enum.Enum):
    #: The connection or the gateway is (transiently) gone: reconnect with backoff and retry.
    RETRY = "retry"
    #: The credentials are no longer valid (UNAUTHENTICATED): join again, then retry.
    REJOIN = "rejoin"
    #: Refused for a reason of the federation's state (FAILED_PRECONDITION): drop this work, go on.
    REJECTED = "rejected"
    #: The request itself is invalid (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...): drop it, log an
    #: error, go on.
    INVALID = "invalid"
    #: Retrying cannot help and the learner cannot act: stop with the gateway's reason.
    FATAL = "fatal"


_KINDS = {
    grpc.StatusCode.UNAVAILABLE: Kind.RETRY,
    grpc.StatusCode.DEADLINE_EXCEEDED: Kind.RETRY,
    grpc.StatusCode.CANCELLED: Kind.RETRY,
    grpc.StatusCode.ABORTED: Kind.RETRY,
    grpc.StatusCode.INTERNAL: Kind.RETRY,
    grpc.StatusCode.UNKNOWN: Kind.RETRY,
    grpc.StatusCode.UNAUTHENTICATED: Kind.REJOIN,
    grpc.StatusCode.FAILED_PRECONDITION: Kind.REJECTED,
    grpc.StatusCode.INVALID_ARGUMENT: Kind.INVALID,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Kind.INVALID,
    grpc.StatusCode.OUT_OF_RANGE: Kind.INVALID,
    grpc.StatusCode.NOT_FOUND: Kind.INVALID,
    grpc.StatusCode.ALREADY_EXISTS: Kind.INVALID,
}


#: The trailer a gateway adds to RESOURCE_EXHAUSTED when one of its limits was reached (join rate,
#: learners, uploads in flight): the call is retried with backoff instead of dropped.
RETRY_AFTER_MS = "metisfl-retry-after-ms"


def classify(code) -> Kind:
    """What to do about a call that failed with this status code (PERMISSION_DENIED,
    UNIMPLEMENTED, DATA_LOSS and anything unknown are FATAL)."""
    return _KINDS.get(code, Kind.FATAL)


def classify_error(error) -> Kind:
    """As ``classify``, and a gateway's passing limit (RESOURCE_EXHAUSTED with the
    ``metisfl-retry-after-ms`` trailer) is RETRY."""
    code = code_of(error)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        trailers = getattr(error, "trailing_metadata", None)
        try:
            pairs = trailers() if callable(trailers) else None
        except Exception:  # noqa: BLE001 - a broken error object has no trailers
            pairs = None
        if pairs and any(key == RETRY_AFTER_MS for key, _ in pairs):
            return Kind.RETRY
    return classify(code)


def code_of(error) -> "grpc.StatusCode":
    code = getattr(error, "code", None)
    if callable(code):
        try:
            c = code()
            if c is not None:
                return c
        except Exception:  # noqa: BLE001 - a broken error object is an unknown failure
            pass
    return grpc.StatusCode.UNKNOWN


def describe(error) -> str:
    """A failure as one phrase: ``FAILED_PRECONDITION: round 3 is closed``."""
    code = code_of(error)
    details = None
    d = getattr(error, "details", None)
    if callable(d):
        try:
            details = d()
        except Exception:  # noqa: BLE001
            details = None
    name = code.name if hasattr(code, "name") else str(code)
    return name if not details else "%s: %s" % (name, details)
