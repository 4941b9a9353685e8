import grpc
import pytest

from metisfl_learner import LearnerOptions
from metisfl_learner.backoff import Backoff
from metisfl_learner.failures import Kind, classify, classify_error, describe
from metisfl_learner.session import parse_gateways


@pytest.mark.parametrize(
    "code,kind",
    [
        (grpc.StatusCode.UNAVAILABLE, Kind.RETRY),
        (grpc.StatusCode.DEADLINE_EXCEEDED, Kind.RETRY),
        (grpc.StatusCode.CANCELLED, Kind.RETRY),
        (grpc.StatusCode.INTERNAL, Kind.RETRY),
        (grpc.StatusCode.UNAUTHENTICATED, Kind.REJOIN),
        (grpc.StatusCode.FAILED_PRECONDITION, Kind.REJECTED),
        (grpc.StatusCode.INVALID_ARGUMENT, Kind.INVALID),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, Kind.INVALID),
        (grpc.StatusCode.PERMISSION_DENIED, Kind.FATAL),
        (grpc.StatusCode.UNIMPLEMENTED, Kind.FATAL),
        (grpc.StatusCode.DATA_LOSS, Kind.FATAL),
    ],
)
def test_each_status_has_one_reaction(code, kind):
    assert classify(code) is kind


def test_describe_shows_code_and_details():
    class E:
        def code(self):
            return grpc.StatusCode.FAILED_PRECONDITION

        def details(self):
            return "round 3 is closed"

    assert describe(E()) == "FAILED_PRECONDITION: round 3 is closed"


def test_backoff_doubles_up_to_the_maximum_with_jitter_between_half_and_all():
    low = Backoff(0.5, 30, lambda: 0.0)
    high = Backoff(0.5, 30, lambda: 0.999999)
    assert low.delay(1) == pytest.approx(0.25)
    assert high.delay(1) == pytest.approx(0.5, rel=1e-5)
    assert high.delay(3) == pytest.approx(2.0, rel=1e-5)
    assert high.delay(100) == pytest.approx(30, rel=1e-5)
    assert low.delay(100) == pytest.approx(15)


def test_options_name_the_bad_property():
    with pytest.raises(ValueError, match="call_timeout is 0 but must be a positive"):
        LearnerOptions(call_timeout=0)
    with pytest.raises(ValueError, match="reconnect_max_backoff .* shorter than"):
        LearnerOptions(reconnect_initial_backoff=5, reconnect_max_backoff=1)
    with pytest.raises(ValueError, match="max_chunk_bytes is 2097152 but must be between 1 and"):
        LearnerOptions(max_chunk_bytes=2 << 20)
    with pytest.raises(ValueError, match="max_reconnect_attempts is 0"):
        LearnerOptions(max_reconnect_attempts=0)


def test_gateway_addresses_are_validated():
    assert parse_gateways("a:1,b:2") == ["a:1", "b:2"]
    with pytest.raises(ValueError, match="'localhost' is not host:port"):
        parse_gateways("localhost")
    with pytest.raises(ValueError, match="at least one gateway"):
        parse_gateways([])


class _Exhausted(grpc.RpcError):
    def __init__(self, trailers):
        self._trailers = trailers

    def code(self):
        return grpc.StatusCode.RESOURCE_EXHAUSTED

    def trailing_metadata(self):
        return self._trailers


def test_a_gateway_limit_with_the_retry_trailer_is_retried_other_exhaustion_dropped():
    assert classify_error(_Exhausted((("metisfl-retry-after-ms", "1000"),))) is Kind.RETRY
    assert classify_error(_Exhausted(())) is Kind.INVALID
    assert classify_error(_Exhausted(None)) is Kind.INVALID
