"""grpcio (C-core) client for transport.testing.v1.TestService and grpc.health.v1, the interop peer for our C# server.

Usage: interop_client.py STUBS_DIR TARGET SCENARIO [ARGS...]
Prints what it observed as one JSON object; the C# test decides whether that is right.
"""
import base64
import json
import os
import sys
import uuid
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from transport.testing.v1 import test_service_pb2 as pb  # noqa: E402
from transport.testing.v1 import test_service_pb2_grpc as pb_grpc  # noqa: E402

MAX_MESSAGE = 64 * 1024 * 1024


def metadata_dict(pairs):
    return {
        key: base64.b64encode(value).decode() if key.endswith("-bin") else value
        for key, value in (pairs or ())
        if key.startswith("x-")
    }


def server_saw_cancellation(stub, call_id):
    return stub.WaitForCallEnd(pb.CallEndRequest(call_id=call_id), timeout=30).cancelled


def unary(stub, args):
    return {"text": stub.Echo(pb.EchoRequest(text=args[0])).text}


def server_streaming(stub, args):
    call = stub.Count(pb.EchoRequest(text="n", reply_count=int(args[0])))
    indexes = [reply.index for reply in call]
    return {"indexes": indexes, "code": call.code().name}


def client_streaming(stub, args):
    reply = stub.Collect(iter([pb.EchoRequest(text=word) for word in args]))
    return {"text": reply.text, "index": reply.index}


def bidi(stub, args):
    call = stub.Chat(iter([pb.EchoRequest(text=word) for word in args]))
    return {"texts": [reply.text for reply in call], "code": call.code().name}


def deadline(stub, args):
    call_id = str(uuid.uuid4())
    # Connect first, so the deadline can only pass while the call is on the server.
    stub.Echo(pb.EchoRequest(text="warm-up"))
    try:
        stub.Echo(pb.EchoRequest(call_id=call_id, reply_interval_ms=60_000), timeout=float(args[0]))
        code = "OK"
    except grpc.RpcError as error:
        code = error.code().name
    return {"code": code, "server_cancelled": server_saw_cancellation(stub, call_id)}


def cancel(stub, args):
    call_id = str(uuid.uuid4())
    call = stub.Count(pb.EchoRequest(call_id=call_id, reply_count=1000, reply_interval_ms=20))
    first = next(call)
    call.cancel()
    try:
        for _ in call:
            pass
        code = "OK"
    except grpc.RpcError as error:
        code = error.code().name
    return {"first_index": first.index, "code": code, "server_cancelled": server_saw_cancellation(stub, call_id)}


def error(stub, args):
    try:
        stub.Echo(pb.EchoRequest(fail_with_code=int(args[0]), fail_with_message=args[1]))
        return {"code": "OK"}
    except grpc.RpcError as failure:
        return {"code": failure.code().name, "details": failure.details()}


def metadata(stub, args):
    sent = [("x-ascii", args[0]), ("x-data-bin", base64.b64decode(args[1]))]
    _, call = stub.Echo.with_call(pb.EchoRequest(text="m"), metadata=sent)
    return {"initial": metadata_dict(call.initial_metadata()), "trailing": metadata_dict(call.trailing_metadata())}


def large(stub, args):
    payload = os.urandom(int(args[0]))
    reply = stub.Echo(pb.EchoRequest(payload=payload))
    return {"size": len(reply.payload), "equal": reply.payload == payload}


def concurrent(stub, args):
    count = int(args[0])
    calls = [stub.Echo.future(pb.EchoRequest(text="call %d" % i, reply_interval_ms=20)) for i in range(count)]
    texts = [call.result().text for call in calls]
    return {"matching": sum(1 for i, text in enumerate(texts) if text == "call %d" % i)}


def health(channel, args):
    stub = health_pb2_grpc.HealthStub(channel)
    overall = stub.Check(health_pb2.HealthCheckRequest()).status
    try:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        unknown = "OK"
    except grpc.RpcError as failure:
        unknown = failure.code().name
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
    first = next(watch).status
    watch.cancel()
    name = health_pb2.HealthCheckResponse.ServingStatus.Name
    return {"overall": name(overall), "unknown_service": unknown, "watch_first": name(first)}


SCENARIOS = {
    "unary": unary, "server_streaming": server_streaming, "client_streaming": client_streaming, "bidi": bidi,
    "deadline": deadline, "cancel": cancel, "error": error, "metadata": metadata, "large": large,
    "concurrent": concurrent,
}


def main():
    target, scenario, args = sys.argv[2], sys.argv[3], sys.argv[4:]
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
    with grpc.insecure_channel(target, options=options) as channel:
        if scenario == "health":
            result = health(channel, args)
        else:
            result = SCENARIOS[scenario](pb_grpc.TestServiceStub(channel), args)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
