"""The grpcio (C-core) side of the `grpc` benchmark suite: the anchor the .NET stacks are compared with.

  grpcio_bench.py serve STUBS_DIR                       prints the port, serves until stdin closes
  grpcio_bench.py latency STUBS_DIR TARGET CALLS        sequential unary calls -> {"p50_us", "p99_us"}
  grpcio_bench.py throughput STUBS_DIR TARGET CONCURRENCY SECONDS  -> {"calls", "seconds"}
  grpcio_bench.py stream STUBS_DIR TARGET RESPONSES     one ModelStreamInfer call -> {"messages", "seconds"}

The service is inference.GRPCInferenceService (stubs generated from TritonClient/Protos): ModelReady with a
64-character name as the unary call, ModelStreamInfer answering one request with RESPONSES one-token responses,
the last marked triton_final_response: the same bytes BenchMessages.cs sends.
"""
import asyncio
import json
import struct
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, sys.argv[2])

import grpc  # noqa: E402
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402

PING = pb.ModelReadyRequest(name="x" * 64)
COUNT_PARAMETER = "bench_responses"
FINAL_PARAMETER = "triton_final_response"


def token(request_id, index, final):
    response = pb.ModelInferResponse(model_name="gptj", model_version="1", id=request_id,
                                     raw_output_contents=[struct.pack("<i", index % 50400)])
    response.parameters[FINAL_PARAMETER].bool_param = final
    response.outputs.add(name="output_ids", datatype="INT32", shape=[1, 1, 1])
    return pb.ModelStreamInferResponse(infer_response=response)


class Servicer(pb_grpc.GRPCInferenceServiceServicer):
    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=True)

    def ModelStreamInfer(self, request_iterator, context):
        for request in request_iterator:
            count = request.parameters[COUNT_PARAMETER].int64_param
            for i in range(count):
                yield token(request.id, i, i == count - 1)


def serve():
    # The synchronous server measured faster than grpc.aio's on this workload, so it is the anchor.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def latency(target, calls):
    with grpc.insecure_channel(target) as channel:
        ready = pb_grpc.GRPCInferenceServiceStub(channel).ModelReady
        for _ in range(min(calls, 2000)):
            ready(PING)
        samples = []
        for _ in range(calls):
            start = time.perf_counter_ns()
            ready(PING)
            samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return {"p50_us": samples[len(samples) // 2] / 1000, "p99_us": samples[int(len(samples) * 0.99)] / 1000}


async def throughput(target, concurrency, seconds):
    async with grpc.aio.insecure_channel(target) as channel:
        ready = pb_grpc.GRPCInferenceServiceStub(channel).ModelReady
        for _ in range(500):
            await ready(PING)
        counts = [0] * concurrency
        stop_at = time.perf_counter() + seconds

        async def worker(index):
            while time.perf_counter() < stop_at:
                await ready(PING)
                counts[index] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return {"calls": sum(counts), "seconds": time.perf_counter() - start}


def stream_once(stub, responses):
    """One call: send the request, read to the final response, then half-close and read to the end."""
    final_seen = threading.Event()

    def requests():
        request = pb.ModelInferRequest(id="bench", model_name="gptj")
        request.parameters[COUNT_PARAMETER].int64_param = responses
        yield request
        final_seen.wait()

    received = 0
    for message in stub.ModelStreamInfer(requests()):
        received += 1
        if message.infer_response.parameters[FINAL_PARAMETER].bool_param:
            final_seen.set()
    return received


def stream(target, responses):
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        stream_once(stub, min(responses, 2000))
        start = time.perf_counter()
        received = stream_once(stub, responses)
        return {"messages": received, "seconds": time.perf_counter() - start}


def main():
    mode = sys.argv[1]
    if mode == "serve":
        serve()
        return
    target = sys.argv[3]
    if mode == "latency":
        result = latency(target, int(sys.argv[4]))
    elif mode == "stream":
        result = stream(target, int(sys.argv[4]))
    else:
        result = asyncio.run(throughput(target, int(sys.argv[4]), float(sys.argv[5])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
