"""Transport security: options validation, the bearer token on every call (plaintext and TLS),
the enrollment token on Join, and token renewal, against the fake gateway on real gRPC."""

import datetime
import ipaddress
import time

import pytest

from metisfl_learner import LearnerOptions
from metisfl_learner._proto import pb
from metisfl_learner.session import renewal_due
from fake_gateway import FakeGateway, tensors
from test_session import FAST, SHAPES, Shifter, run_learner

ENROLLMENT = "enroll.eyJ0ZXN0Ijp0cnVlfQ.c2ln"


def options(**kw):
    base = dict(
        call_timeout=5, transfer_timeout=10, reconnect_initial_backoff=0.01, reconnect_max_backoff=0.05
    )
    base.update(kw)
    return LearnerOptions(**base)


def test_tls_is_the_default():
    assert LearnerOptions().insecure is False
    assert LearnerOptions().channel_credentials() is not None
    assert LearnerOptions(insecure=True).channel_credentials() is None


def test_options_refuse_contradictory_or_missing_tls_files(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="certificate_chain and private_key go together"):
        LearnerOptions(certificate_chain=str(pem))
    with pytest.raises(ValueError, match="certificate_chain and private_key go together"):
        LearnerOptions(private_key=str(pem))
    with pytest.raises(ValueError, match="insecure=True .* contradicts the TLS setting.* root_certificates"):
        LearnerOptions(insecure=True, root_certificates=str(pem))
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ValueError, match="root_certificates is '.*nope.pem' but must be the path of a readable"):
        LearnerOptions(root_certificates=missing)
    with pytest.raises(ValueError, match="insecure is 'yes' but must be True or False"):
        LearnerOptions(insecure="yes")
    with pytest.raises(ValueError, match="enrollment_token must be the token"):
        LearnerOptions(enrollment_token="two words")
    with pytest.raises(ValueError, match="enrollment_token must be the token"):
        LearnerOptions(enrollment_token="")
    assert LearnerOptions(root_certificates=str(pem)).root_certificates == str(pem)


def test_renewal_is_due_when_less_than_a_third_of_the_lifetime_is_left():
    assert not renewal_due(0, 0, 10**12)  # no expiry announced
    assert not renewal_due(1000, 4000, 1000)
    assert not renewal_due(1000, 4000, 2999)  # 1001 ms left of 3000: more than a third
    assert renewal_due(1000, 4000, 3001)  # 999 ms left
    assert renewal_due(1000, 4000, 5000)  # expired


def finish(gateway, learner_thread, result):
    gateway.shutdown()
    learner_thread.join(30)
    assert not learner_thread.is_alive()
    assert "error" not in result, result.get("error")
    return result["summary"]


def test_plaintext_calls_carry_the_enrollment_then_the_session_token_as_metadata():
    gateway = FakeGateway(tensors(SHAPES, scale=0.5), max_message_bytes=200_000)
    try:
        gateway.train(1)
        gateway.evaluate(1)
        t, result = run_learner(
            gateway, Shifter(), options(insecure=True, enrollment_token=ENROLLMENT)
        )
        assert finish(gateway, t, result).rounds_trained == 1
        seen = list(gateway.bearers)
        assert seen[0] == ("Join", ENROLLMENT)
        methods = {m for m, _ in seen[1:]}
        assert {"StreamTasks", "GetModel", "SubmitUpdate", "SubmitEvaluation"} <= methods
        assert all(token == "token-L1" for _, token in seen[1:]), seen
    finally:
        gateway.stop()


def test_without_enrollment_token_join_carries_no_authorization():
    gateway = FakeGateway(tensors(SHAPES, scale=0.5))
    try:
        t, result = run_learner(gateway, Shifter(), FAST)
        finish(gateway, t, result)
        assert gateway.bearers[0] == ("Join", None)
        assert gateway.bearers[1] == ("StreamTasks", "token-L1")
    finally:
        gateway.stop()


@pytest.mark.skipif(
    not hasattr(pb, "RenewTokenRequest"), reason="this learner.proto has no RenewToken yet"
)
def test_renews_the_token_before_a_third_of_its_lifetime_is_left_and_uses_the_new_one():
    gateway = FakeGateway(tensors(SHAPES, scale=0.5), token_lifetime_ms=1500)
    try:
        t, result = run_learner(gateway, Shifter(), options(insecure=True))
        deadline = time.time() + 15
        while gateway.renewals < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert gateway.renewals >= 2
        gateway.evaluate(1)
        finish(gateway, t, result)
        renewals = [token for m, token in gateway.bearers if m == "RenewToken"]
        assert renewals[:2] == ["token-L1", "token-L1-r1"]
        evaluation = [token for m, token in gateway.bearers if m == "SubmitEvaluation"]
        assert evaluation and evaluation[0].startswith("token-L1-r")
        assert len(gateway.joins) == 1
    finally:
        gateway.stop()


# -- a real TLS server ----------------------------------------------------------------------

crypto = pytest.importorskip("cryptography")


def _pki(tmp_path):
    """A CA and a server certificate for 127.0.0.1 and localhost, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.utcnow()

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(key):
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("gateway"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_pem)
    return str(ca_file), (pem_key(key), cert.public_bytes(serialization.Encoding.PEM))


def test_over_tls_calls_carry_the_tokens_as_call_credentials(tmp_path):
    ca_file, server_tls = _pki(tmp_path)
    gateway = FakeGateway(tensors(SHAPES, scale=0.5), max_message_bytes=200_000, tls=server_tls)
    try:
        gateway.train(1)
        t, result = run_learner(
            gateway, Shifter(), options(root_certificates=ca_file, enrollment_token=ENROLLMENT)
        )
        assert finish(gateway, t, result).rounds_trained == 1
        assert gateway.bearers[0] == ("Join", ENROLLMENT)
        assert all(token == "token-L1" for _, token in gateway.bearers[1:]), gateway.bearers
        assert ("L1", "train-1") in gateway.accepted
    finally:
        gateway.stop()


def test_over_tls_a_gateway_certificate_from_another_ca_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, server_tls = _pki(tmp_path / "a")
    other_ca, _ = _pki(tmp_path / "b")
    gateway = FakeGateway(tensors(SHAPES, scale=0.5), tls=server_tls)
    try:
        from metisfl_learner import Learner, LearnerError

        with pytest.raises(LearnerError, match="join failed with UNAVAILABLE"):
            Learner(
                Shifter(),
                gateway.address,
                options=options(root_certificates=other_ca, call_timeout=1, max_reconnect_attempts=2),
            ).run()
        assert gateway.joins == []
    finally:
        gateway.stop()
