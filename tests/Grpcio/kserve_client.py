"""A standard gRPC client (grpcio, stubs generated from our .proto) calling CpuBackend.

Usage: kserve_client.py <host:port> <scenario> (stubs on PYTHONPATH)
Prints one JSON object with what it saw; the C# test compares it with TritonClient's view and the server's.
Scenarios:
  generate  liveness, readiness, config, unary ModelInfer, bidi ModelStreamInfer with its final flags, a bad tensor
  deadline  a long ModelInfer with a 3 s deadline
  cancel    a long streamed request cancelled after its third response
  errors    a model name in Vietnamese (NOT_FOUND) and a `-bin` header
  large     an 8 MB request, and one over the server's 64 MiB limit
"""
import json
import struct
import sys

import grpc
from client_support import cancel_after, status
import grpc_service_pb2 as pb
import grpc_service_pb2_grpc as pb_grpc

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # TritonInferenceClient.MaxMessageBytes


def int32_input(request, name, shape, values):
    tensor = request.inputs.add(name=name, datatype="INT32", shape=shape)
    request.raw_input_contents.append(struct.pack("<%di" % len(values), *values))
    return tensor


def bool_input(request, name, value):
    request.inputs.add(name=name, datatype="BOOL", shape=[1, 1])
    request.raw_input_contents.append(bytes([1 if value else 0]))


def generation_request(request_id, prompt, output_len, streaming, samples=1, top_k=1):
    request = pb.ModelInferRequest(model_name="gptj", id=request_id)
    int32_input(request, "input_ids", [1, len(prompt)], prompt)
    int32_input(request, "input_lengths", [1, 1], [len(prompt)])
    int32_input(request, "request_output_len", [1, 1], [output_len])
    int32_input(request, "end_id", [1, 1], [-1])
    int32_input(request, "runtime_top_k", [1, 1], [top_k])
    int32_input(request, "num_return_sequences", [1, 1], [samples])
    bool_input(request, "exclude_input_in_output", True)
    bool_input(request, "streaming", streaming)
    return request


def output(response, name):
    for index, tensor in enumerate(response.outputs):
        if tensor.name == name:
            raw = response.raw_output_contents[index]
            return list(tensor.shape), list(struct.unpack("<%di" % (len(raw) // 4), raw))
    raise KeyError(name)


def generate(stub):
    result = {
        "live": stub.ServerLive(pb.ServerLiveRequest(), timeout=30).live,
        "model_ready": stub.ModelReady(pb.ModelReadyRequest(name="gptj"), timeout=30).ready,
    }
    config = stub.ModelConfig(pb.ModelConfigRequest(name="gptj"), timeout=30).config
    result["decoupled"] = config.model_transaction_policy.decoupled
    result["max_batch_size"] = config.max_batch_size

    unary = stub.ModelInfer(generation_request("py-unary", [5, 6, 7], 6, False), timeout=60)
    shape, ids = output(unary, "output_ids")
    result["unary"] = {"id": unary.id, "shape": shape, "ids": ids}
    # tritonclient.grpc's compression_algorithm ("gzip" or "deflate"): the request travels compressed (grpc-encoding).
    for name, algorithm in (("gzip", grpc.Compression.Gzip), ("deflate", grpc.Compression.Deflate)):
        compressed = stub.ModelInfer(generation_request("py-" + name, [5, 6, 7], 6, False), timeout=60, compression=algorithm)
        result[name] = {"id": compressed.id, "ids": output(compressed, "output_ids")[1]}

    stream_tokens, finals = [], []
    for message in stub.ModelStreamInfer(iter([generation_request("py-stream", [5, 6, 7], 6, True)]), timeout=60):
        if message.error_message:
            raise RuntimeError(message.error_message)
        response = message.infer_response
        if response.outputs:
            stream_tokens.extend(output(response, "output_ids")[1])
        finals.append(response.parameters["triton_final_response"].bool_param)
    result["stream"] = {"ids": stream_tokens, "finals": finals}

    bad = generation_request("py-bad", [5, 6, 7], 6, False)
    bad.inputs[0].datatype = "FP32"
    try:
        stub.ModelInfer(bad, timeout=30)
        result["bad"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["bad"] = status(error)

    # Triton's statistics extension, as tritonclient's get_inference_statistics and perf_analyzer read it.
    stats = stub.ModelStatistics(pb.ModelStatisticsRequest(name="gptj"), timeout=30).model_stats[0]
    result["statistics"] = {"name": stats.name, "success": stats.inference_stats.success.count,
                            "fail": stats.inference_stats.fail.count, "inference_count": stats.inference_count}
    return result


def long_request(request_id, streaming):
    """16 samples of as many tokens as the demo model's context allows: far more than the test lets run."""
    return generation_request(request_id, [5, 6, 7], 500, streaming, samples=16, top_k=50)


def deadline(stub):
    stub.ServerLive(pb.ServerLiveRequest(), timeout=30)  # connected, so the call reaches the server at once
    try:
        stub.ModelInfer(long_request("py-deadline", False), timeout=3)
        return {"code": "OK"}
    except grpc.RpcError as error:
        return status(error)


def cancel(stub):
    return cancel_after(stub.ModelStreamInfer(iter([long_request("py-cancel", True)]), timeout=600), 3)


def errors(stub):
    result = {}
    try:
        stub.ModelConfig(pb.ModelConfigRequest(name="mô-hình-tiếng-việt"), timeout=30)
        result["not_found"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["not_found"] = status(error)
    probe = bytes(range(255, -1, -1))
    result["bin_header_live"] = stub.ServerLive(pb.ServerLiveRequest(), timeout=30, metadata=(("gptj-probe-bin", probe),)).live
    return result


def large(stub):
    result = {}
    for name, count in (("within", 2_000_000), ("over", MAX_MESSAGE_BYTES // 4 + 1024)):
        request = generation_request("py-" + name, [0], 1, False)
        request.inputs[0].shape[:] = [1, count]  # input_ids: `count` zeros, far past the model's context
        request.raw_input_contents[0] = bytes(4 * count)
        request.raw_input_contents[1] = struct.pack("<i", count)  # input_lengths
        try:
            stub.ModelInfer(request, timeout=120)
            result[name] = {"code": "OK", "bytes": request.ByteSize()}
        except grpc.RpcError as error:
            result[name] = {"bytes": request.ByteSize(), **status(error)}
    return result


def main():
    channel = grpc.insecure_channel(sys.argv[1], options=[("grpc.max_send_message_length", 2 * MAX_MESSAGE_BYTES)])
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    scenario = {"generate": generate, "deadline": deadline, "cancel": cancel, "errors": errors, "large": large}[sys.argv[2]]
    print(json.dumps(scenario(stub)))


if __name__ == "__main__":
    main()
