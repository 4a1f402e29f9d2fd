"""A standard gRPC client (grpcio, stubs generated from our .proto) calling CpuBackend.

Usage: kserve_python_client.py <stub-dir> <host:port>
Prints one JSON object with what it saw; the C# test compares it with TritonClient's view.
"""
import json
import struct
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402


def int32_input(request, name, shape, values):
    tensor = request.inputs.add(name=name, datatype="INT32", shape=shape)
    request.raw_input_contents.append(struct.pack("<%di" % len(values), *values))
    return tensor


def bool_input(request, name, value):
    request.inputs.add(name=name, datatype="BOOL", shape=[1, 1])
    request.raw_input_contents.append(bytes([1 if value else 0]))


def generation_request(request_id, prompt, output_len, streaming):
    request = pb.ModelInferRequest(model_name="gptj", id=request_id)
    int32_input(request, "input_ids", [1, len(prompt)], prompt)
    int32_input(request, "input_lengths", [1, 1], [len(prompt)])
    int32_input(request, "request_output_len", [1, 1], [output_len])
    int32_input(request, "end_id", [1, 1], [-1])
    int32_input(request, "runtime_top_k", [1, 1], [1])
    bool_input(request, "exclude_input_in_output", True)
    bool_input(request, "streaming", streaming)
    return request


def output(response, name):
    for index, tensor in enumerate(response.outputs):
        if tensor.name == name:
            raw = response.raw_output_contents[index]
            return list(tensor.shape), list(struct.unpack("<%di" % (len(raw) // 4), raw))
    raise KeyError(name)


def main():
    channel = grpc.insecure_channel(sys.argv[2])
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
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
        result["bad"] = {"code": error.code().name, "details": error.details()}

    print(json.dumps(result))


if __name__ == "__main__":
    main()
