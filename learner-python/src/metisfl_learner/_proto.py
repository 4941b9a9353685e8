"""The generated ``metisfl.v1`` message classes and a client stub derived from the service
descriptor.

Only the message classes are generated (by protoc 3.21.12, from ``proto/``, during the Maven
build). The client stub is built here from the descriptor that protoc embeds: each method's full
name, its streaming kinds and its message classes all come from ``learner.proto`` itself, so the
stub cannot drift from the contract, and no gRPC code generator is needed (Debian's
``python3-grpc-tools`` bundles a protoc too old for proto3 ``optional``).
"""

try:
    from metisfl_learner._generated.metisfl.v1 import learner_pb2 as pb
except ImportError as e:  # pragma: no cover - depends on the build
    raise ImportError(
        "metisfl_learner's generated protocol code (metisfl_learner/_generated) is missing: run"
        " `mvn -B -pl learner-python generate-sources` in the repository (or `mvn -B install"
        " -DskipTests`) before importing or installing the library"
    ) from e

SERVICE = pb.DESCRIPTOR.services_by_name["LearnerService"]


def _message_class(descriptor):
    return getattr(pb, descriptor.name)


class LearnerServiceStub:
    """Callables for every method of ``metisfl.v1.LearnerService`` on one channel.

    Attribute names are the method names in snake case: ``join``, ``stream_tasks``,
    ``submit_update``, ``submit_evaluation``, ``get_model``, ``leave``.
    """

    def __init__(self, channel):
        for method in SERVICE.methods:
            request = _message_class(method.input_type)
            response = _message_class(method.output_type)
            path = "/%s/%s" % (SERVICE.full_name, method.name)
            if method.client_streaming and method.server_streaming:
                factory = channel.stream_stream
            elif method.client_streaming:
                factory = channel.stream_unary
            elif method.server_streaming:
                factory = channel.unary_stream
            else:
                factory = channel.unary_unary
            setattr(
                self,
                _snake(method.name),
                factory(
                    path,
                    request_serializer=request.SerializeToString,
                    response_deserializer=response.FromString,
                ),
            )


def _snake(name):
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0:
            out.append("_")
        out.append(c.lower())
    return "".join(out)
