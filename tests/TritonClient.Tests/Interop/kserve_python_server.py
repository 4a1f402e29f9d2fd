"""A KServe v2 server written with grpcio (C-core), for TritonClient's interop tests.

Usage: kserve_python_server.py <stub-dir>
Prints its port, serves until stdin closes. Behaviour by model name:
  echo      ModelInfer answers with the request's raw inputs as outputs (large messages both ways)
  stream    ModelStreamInfer answers each request with `request_output_len` one-token responses, the last final
  endless   ModelStreamInfer answers until the call is cancelled, then records the request id as cancelled
  slow      ModelInfer waits until the call ends (the client's deadline) and records the request id as ended
  missing   ModelInfer fails NOT_FOUND with a Vietnamese message and a binary trailer
RepositoryIndex lists the recorded request ids as models named "cancelled:<id>" / "ended:<id>".
"""
import struct
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402

ENDED = []
ENDED_LOCK = threading.Lock()


def record(kind, request_id):
    with ENDED_LOCK:
        ENDED.append(kind + ":" + request_id)


def token(request, index, final):
    response = pb.ModelInferResponse(model_name=request.model_name, id=request.id,
                                     raw_output_contents=[struct.pack("<i", index)])
    response.outputs.add(name="output_ids", datatype="INT32", shape=[1, 1, 1])
    response.parameters["triton_final_response"].bool_param = final
    return pb.ModelStreamInferResponse(infer_response=response)


def output_len(request):
    for index, tensor in enumerate(request.inputs):
        if tensor.name == "request_output_len":
            return struct.unpack("<i", request.raw_input_contents[index])[0]
    return 1


class Servicer(pb_grpc.GRPCInferenceServiceServicer):
    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ModelInfer(self, request, context):
        if request.model_name == "echo":
            response = pb.ModelInferResponse(model_name="echo", id=request.id)
            for tensor in request.inputs:
                response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            response.raw_output_contents.extend(request.raw_input_contents)
            return response
        if request.model_name == "slow":
            give_up = time.monotonic() + 60
            while context.is_active() and time.monotonic() < give_up:
                time.sleep(0.01)
            if not context.is_active():
                record("ended", request.id)
            return pb.ModelInferResponse(model_name="slow", id=request.id)
        context.set_trailing_metadata((("gptj-detail-bin", "Không tìm thấy".encode("utf-8")),))
        context.abort(grpc.StatusCode.NOT_FOUND, "Không tìm thấy mô hình '%s'" % request.model_name)

    def ModelStreamInfer(self, request_iterator, context):
        for request in request_iterator:
            if request.model_name == "endless":
                context.add_callback(lambda request_id=request.id: record("cancelled", request_id))
                index = 0
                while context.is_active():
                    yield token(request, index, False)
                    index += 1
                    time.sleep(0.01)
                return
            count = output_len(request)
            for index in range(count):
                yield token(request, index, index == count - 1)

    def RepositoryIndex(self, request, context):
        with ENDED_LOCK:
            names = list(ENDED)
        return pb.RepositoryIndexResponse(models=[pb.RepositoryIndexResponse.ModelIndex(name=name) for name in names])


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                                  ("grpc.max_send_message_length", 64 * 1024 * 1024)])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
