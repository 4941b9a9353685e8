"""An in-process stand-in for the learner gateway, for unit tests of the learner's logic
(reconnects, resends, chunking) where the real job would make failures hard to stage. It serves
the real metisfl.v1 messages over real gRPC on 127.0.0.1; the Java ITCases run the real job."""

import itertools
import queue
import threading
import time
from concurrent import futures

import grpc
import numpy as np

from metisfl_learner import codec
from metisfl_learner._proto import SERVICE, pb
from metisfl_learner.crc32c import crc32c
from metisfl_learner.types import NamedTensor


def bearer(context):
    """The token of the call's `authorization: Bearer <token>` metadata, or None."""
    for key, value in context.invocation_metadata():
        if key == "authorization" and value.startswith("Bearer "):
            return value[len("Bearer "):]
    return None


#: One clock for every fake gateway of the process: orders streams opened and closed at two.
_SEQUENCE = itertools.count(1)
_SEQUENCE_LOCK = threading.Lock()


def _tick():
    with _SEQUENCE_LOCK:
        return next(_SEQUENCE)


class FakeGateway:
    """tls: (private key PEM, certificate chain PEM) to serve TLS; None = plaintext.
    token_lifetime_ms: announced lifetime of the tokens it issues; 0 = announce none.
    headers_at_registration: as the real gateway, answer a task stream with its headers once it is
    registered (False: with its first task only, as gateways built before that did)."""

    def __init__(
        self,
        model,
        max_message_bytes=4 << 20,
        initial_model_requested=False,
        tls=None,
        token_lifetime_ms=0,
        headers_at_registration=True,
    ):
        self.model = list(model)  # NamedTensors served by GetModel
        self.model_version = 0
        self.max_message_bytes = max_message_bytes
        self.initial_model_requested = initial_model_requested
        self.tasks = queue.Queue()
        self.lock = threading.Lock()
        self.joins = []
        self.leaves = []
        self.evaluations = []
        self.accepted = {}  # (learner, task_id) -> (header, values)
        self.upload_attempts = []  # (task_id, [chunk sizes])
        self.fail_next_upload_after_receiving = 0  # answer UNAVAILABLE this many times
        self.unauthenticated_streams = 0
        self.token_lifetime_ms = token_lifetime_ms
        self.bearers = []  # (method, bearer token or None) of every call, in order
        self.renewals = 0
        self.encryption = None  # pb.Encryption announced at join (secure aggregation), or None
        # When True, an upload is taken (recorded in `accepted`) at once but answered only when
        # the test calls release() (as a real gateway answers after the checkpoint).
        self.hold_answers = False
        self.held = 0
        self._release = threading.Semaphore(0)
        self._release_fails = []
        self.refuse = {}  # task_id -> (status code, description) answered at the header
        self.headers_at_registration = headers_at_registration
        # Sequence numbers (one clock for all fake gateways) at which a task stream was
        # registered here, and at which one ended (the learner cancelled it, or it finished).
        self.streams_opened = []
        self.streams_closed = []
        # Run once a task stream is registered, before its headers go out.
        self.on_stream_registered = lambda: None
        self.refuse_streams = 0  # task streams still to refuse with UNAVAILABLE
        self.refused_streams = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handlers = {
            "Join": grpc.unary_unary_rpc_method_handler(
                self._join, pb.JoinRequest.FromString, pb.JoinResponse.SerializeToString
            ),
            "StreamTasks": grpc.unary_stream_rpc_method_handler(
                self._stream, pb.StreamTasksRequest.FromString, pb.Task.SerializeToString
            ),
            "SubmitUpdate": grpc.stream_unary_rpc_method_handler(
                self._submit, pb.UpdateChunk.FromString, pb.SubmitUpdateResponse.SerializeToString
            ),
            "SubmitEvaluation": grpc.unary_unary_rpc_method_handler(
                self._evaluation,
                pb.EvaluationReport.FromString,
                pb.SubmitEvaluationResponse.SerializeToString,
            ),
            "GetModel": grpc.unary_stream_rpc_method_handler(
                self._get_model, pb.GetModelRequest.FromString, pb.ModelChunk.SerializeToString
            ),
            "Leave": grpc.unary_unary_rpc_method_handler(
                self._leave, pb.LeaveRequest.FromString, pb.LeaveResponse.SerializeToString
            ),
        }
        if hasattr(pb, "RenewTokenRequest"):
            handlers["RenewToken"] = grpc.unary_unary_rpc_method_handler(
                self._renew, pb.RenewTokenRequest.FromString, pb.RenewTokenResponse.SerializeToString
            )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
        )
        if tls is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self._server.add_secure_port(
                "127.0.0.1:0", grpc.ssl_server_credentials([tls])
            )
        self._server.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self._server.stop(0)

    # -- scripting ---------------------------------------------------------------------------

    def train(self, round_, task_id=None, epochs=1):
        self.tasks.put(
            pb.Task(
                task_id=task_id or "train-%d" % round_,
                round=round_,
                model_version=self.model_version,
                train=pb.TrainTask(epochs=epochs),
            )
        )

    def evaluate(self, round_):
        self.tasks.put(
            pb.Task(
                task_id="eval-%d" % round_,
                round=round_,
                model_version=self.model_version,
                evaluate=pb.EvaluateTask(),
            )
        )

    def shutdown(self):
        self.tasks.put(pb.Task(task_id="end", shutdown=pb.Shutdown(reason="test over")))

    def release(self, n=1, fail=False):
        """Answers up to n held uploads (oldest waiting first); fail=True answers UNAVAILABLE."""
        for _ in range(n):
            with self.lock:
                self._release_fails.append(fail)
            self._release.release()

    # -- service -----------------------------------------------------------------------------

    def _record(self, method, context):
        with self.lock:
            self.bearers.append((method, bearer(context)))

    def _expiry(self):
        if not self.token_lifetime_ms:
            return {}
        return {"token_expires_at_ms": int(time.time() * 1000) + self.token_lifetime_ms}

    def _join(self, request, context):
        self._record("Join", context)
        with self.lock:
            learner = "L%d" % (len(self.joins) + 1)
            self.joins.append(request)
        response = pb.JoinResponse(
            learner_id=learner,
            token="token-" + learner,
            initial_model_requested=self.initial_model_requested,
            max_message_bytes=self.max_message_bytes,
            **self._expiry()
        )
        if self.encryption is not None:
            response.encryption.CopyFrom(self.encryption)
        return response

    def _renew(self, request, context):
        self._record("RenewToken", context)
        with self.lock:
            self.renewals += 1
            token = "token-%s-r%d" % (request.learner_id, self.renewals)
        return pb.RenewTokenResponse(token=token, **self._expiry())

    def _stream(self, request, context):
        self._record("StreamTasks", context)
        if self.unauthenticated_streams > 0:
            self.unauthenticated_streams -= 1
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown token")
        with self.lock:
            refuse = self.refuse_streams > 0
            if refuse:
                self.refuse_streams -= 1
                self.refused_streams += 1
        if refuse:
            context.abort(grpc.StatusCode.UNAVAILABLE, "task stream refused by the test")
        with self.lock:
            self.streams_opened.append(_tick())
        context.add_callback(lambda: self.streams_closed.append(_tick()))
        self.on_stream_registered()
        if self.headers_at_registration:
            context.send_initial_metadata(())
        while context.is_active():
            try:
                task = self.tasks.get(timeout=0.05)
            except queue.Empty:
                continue
            yield task
            if task.WhichOneof("kind") == "shutdown":
                return

    def _submit(self, chunks, context):
        self._record("SubmitUpdate", context)
        header = None
        sizes = []
        data = bytearray()
        for c in chunks:
            if c.WhichOneof("part") == "header":
                header = c.header
            else:
                # As the real gateway: each chunk names its offset, the header the bytes' CRC-32C.
                if not c.HasField("offset") or c.offset != len(data):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "chunk offset missing or wrong")
                sizes.append(len(c.data))
                data += c.data
        if header.task_id in self.refuse:
            code, description = self.refuse[header.task_id]
            with self.lock:
                self.upload_attempts.append((header.task_id, sizes))
            context.abort(code, description)
        if not header.HasField("crc32c") or header.crc32c != crc32c(bytes(data)):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "CRC-32C missing or wrong")
        key = (header.credentials.learner_id, header.task_id)
        values = codec.decode(header.tensors, bytes(data))
        with self.lock:
            self.upload_attempts.append((header.task_id, sizes))
            duplicate = key in self.accepted
            if not duplicate:
                self.accepted[key] = (header, values)
            if self.fail_next_upload_after_receiving > 0:
                # The update is in, but the acknowledgement is lost with the connection.
                self.fail_next_upload_after_receiving -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset before the ack")
            if self.hold_answers:
                self.held += 1
        if self.hold_answers:
            if not self._release.acquire(timeout=30):
                context.abort(grpc.StatusCode.UNAVAILABLE, "never released")
            with self.lock:
                self.held -= 1
                fail = self._release_fails.pop(0)
            if fail:
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset before the ack")
        return pb.SubmitUpdateResponse(
            status=pb.SubmitUpdateResponse.DUPLICATE if duplicate else pb.SubmitUpdateResponse.ACCEPTED
        )

    def _evaluation(self, request, context):
        self._record("SubmitEvaluation", context)
        with self.lock:
            self.evaluations.append(request)
        return pb.SubmitEvaluationResponse()

    def _get_model(self, request, context):
        self._record("GetModel", context)
        encoded = codec.encode(self.model)
        yield pb.ModelChunk(
            header=pb.ModelHeader(
                model_version=self.model_version,
                tensors=encoded.specs,
                total_bytes=len(encoded.data),
            )
        )
        for chunk in encoded.chunks(64 * 1024):
            yield pb.ModelChunk(data=chunk)

    def _leave(self, request, context):
        self._record("Leave", context)
        with self.lock:
            self.leaves.append(request.credentials.learner_id)
        return pb.LeaveResponse()


def tensors(shapes, scale=1.0):
    out = []
    for i, (name, shape) in enumerate(shapes):
        n = int(np.prod(shape))
        out.append(NamedTensor(name, (np.arange(n, dtype=np.float32) * scale + i).reshape(shape)))
    return out
