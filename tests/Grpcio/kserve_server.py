"""A KServe v2 server written with grpcio (C-core): the backend in our interop tests (TritonClient, Preprocessor).

Usage: kserve_server.py (stubs on PYTHONPATH). Prints its port, serves until stdin closes. Behaviour by model name:
  echo      ModelInfer answers with the request's raw inputs as outputs (large messages both ways) and sends every
            `-bin` request header back as a trailer with the same bytes
  stream    ModelStreamInfer answers each request with `request_output_len` one-token responses, the last final
  endless   ModelStreamInfer answers until the call is cancelled, then records the request id as cancelled
  slow      ModelInfer waits until the call ends (the client's deadline) and records the request id as ended
  missing   ModelInfer fails NOT_FOUND with a Vietnamese message and a binary trailer
  gptj      a generation model in the tensor contract (ready, metadata, config) whose ModelStreamInfer "generates" the
            prompt's ids over and over, `request_output_len` of them per sample, one response per token when
            `streaming` is set, else one; request ids starting "endless-" generate a token every 200 ms until cancelled
            (recorded as for endless), ids starting "fail-" fail RESOURCE_EXHAUSTED with a Vietnamese message
RepositoryIndex lists the recorded request ids as models named "cancelled:<id>" / "ended:<id>".
"""
import itertools
import struct
import sys
import threading
import time
from concurrent import futures

import grpc
import grpc_service_pb2 as pb
import grpc_service_pb2_grpc as pb_grpc

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # TritonInferenceClient.MaxMessageBytes, as Triton allows
GIVE_UP_SECONDS = 60  # an endless call that nobody cancels still ends, so a broken test cannot hang the server
QUEUE_FULL_VI = "Hàng đợi của mô hình đã đầy, xin thử lại sau"

ENDED = []
ENDED_LOCK = threading.Lock()


def record(kind, request_id):
    with ENDED_LOCK:
        ENDED.append(kind + ":" + request_id)


def response_of(request, rows, final):
    """A generation response: output_ids [1, samples, len(row)] with the given rows."""
    response = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
    width = len(rows[0]) if rows else 0
    if width:
        response.outputs.add(name="output_ids", datatype="INT32", shape=[1, len(rows), width])
        flat = [token for row in rows for token in row]
        response.raw_output_contents.append(struct.pack("<%di" % len(flat), *flat))
    response.parameters["triton_final_response"].bool_param = final
    return pb.ModelStreamInferResponse(infer_response=response)


def scalar(request, name, fmt, default):
    for index, tensor in enumerate(request.inputs):
        if tensor.name == name:
            return struct.unpack("<" + fmt, request.raw_input_contents[index][:struct.calcsize(fmt)])[0]
    return default


def ints(request, name):
    for index, tensor in enumerate(request.inputs):
        if tensor.name == name:
            raw = request.raw_input_contents[index]
            return list(struct.unpack("<%di" % (len(raw) // 4), raw))
    raise KeyError(name)


def until_cancelled(request, context, tokens, samples=1, interval=0.01):
    """One non-final response a token, every `interval` seconds, until the call ends; records the request id as cancelled."""
    context.add_callback(lambda: record("cancelled", request.id))
    give_up = time.monotonic() + GIVE_UP_SECONDS
    while context.is_active() and time.monotonic() < give_up:
        yield response_of(request, [[next(tokens)]] * samples, False)
        time.sleep(interval)


def generate(request, context):
    """The gptj model: the prompt's ids, cycled, as every sample's new tokens."""
    if request.id.startswith("fail-"):
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, QUEUE_FULL_VI)
    samples = scalar(request, "num_return_sequences", "i", 1)
    streaming = scalar(request, "streaming", "?", False)
    tokens = itertools.cycle(ints(request, "input_ids"))
    if request.id.startswith("endless-"):
        # Slow enough that the Preprocessor's budget (the fixture model's context of 32) outlasts the test's deadline.
        yield from until_cancelled(request, context, tokens, samples, interval=0.2)
        return
    count = scalar(request, "request_output_len", "i", 1)
    row = [next(tokens) for _ in range(count)]
    if not streaming:
        yield response_of(request, [row] * samples, True)
        return
    for index, value in enumerate(row):
        yield response_of(request, [[value]] * samples, index == count - 1)


class Servicer(pb_grpc.GRPCInferenceServiceServicer):
    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=request.name == "gptj")

    def ModelMetadata(self, request, context):
        metadata = pb.ModelMetadataResponse(name="gptj", platform="grpcio-test-backend")
        for name in ("input_ids", "input_lengths", "request_output_len"):
            metadata.inputs.add(name=name, datatype="INT32", shape=[-1, -1])
        return metadata

    def ModelConfig(self, request, context):
        response = pb.ModelConfigResponse()
        response.config.name = "gptj"
        response.config.max_batch_size = 8
        response.config.model_transaction_policy.decoupled = True
        return response

    def ModelInfer(self, request, context):
        if request.model_name == "echo":
            context.set_trailing_metadata(tuple((key, value) for key, value in context.invocation_metadata() if key.endswith("-bin")))
            response = pb.ModelInferResponse(model_name="echo", id=request.id)
            for tensor in request.inputs:
                response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            response.raw_output_contents.extend(request.raw_input_contents)
            return response
        if request.model_name == "slow":
            give_up = time.monotonic() + GIVE_UP_SECONDS
            while context.is_active() and time.monotonic() < give_up:
                time.sleep(0.01)
            if not context.is_active():
                record("ended", request.id)
            return pb.ModelInferResponse(model_name="slow", id=request.id)
        context.set_trailing_metadata((("gptj-detail-bin", "Không tìm thấy".encode("utf-8")),))
        context.abort(grpc.StatusCode.NOT_FOUND, "Không tìm thấy mô hình '%s'" % request.model_name)

    def ModelStreamInfer(self, request_iterator, context):
        for request in request_iterator:
            if request.model_name == "gptj":
                yield from generate(request, context)
            elif request.model_name == "endless":
                yield from until_cancelled(request, context, itertools.count())
                return
            else:
                count = scalar(request, "request_output_len", "i", 1)
                for index in range(count):
                    yield response_of(request, [[index]], index == count - 1)

    def RepositoryIndex(self, request, context):
        with ENDED_LOCK:
            names = list(ENDED)
        return pb.RepositoryIndexResponse(models=[pb.RepositoryIndexResponse.ModelIndex(name=name) for name in names])


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                                  ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the test closes stdin or dies
    server.stop(0)


if __name__ == "__main__":
    main()
