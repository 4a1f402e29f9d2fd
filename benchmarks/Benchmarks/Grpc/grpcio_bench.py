"""The grpcio (C-core) side of the `grpc` benchmark suite: the anchor our transport is compared with.

  grpcio_bench.py serve STUBS_DIR                       prints the port, serves until stdin closes
  grpcio_bench.py latency STUBS_DIR TARGET CALLS        sequential unary calls -> {"p50_us", "p99_us"}
  grpcio_bench.py throughput STUBS_DIR TARGET CONCURRENCY SECONDS  -> {"calls", "seconds"}

The method is /bench.Echo/Ping with grpc.health.v1 messages, the same bytes the C# side sends.
"""
import asyncio
import json
import sys
import time
from concurrent import futures

sys.path.insert(0, sys.argv[2])

import grpc  # noqa: E402
import health_pb2  # noqa: E402

METHOD = "/bench.Echo/Ping"
PAYLOAD = "x" * 64


def ping(request, context):
    return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def serve():
    # The synchronous server measured faster than grpc.aio's on this workload, so it is the anchor.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handler = grpc.method_handlers_generic_handler("bench.Echo", {
        "Ping": grpc.unary_unary_rpc_method_handler(
            ping,
            request_deserializer=health_pb2.HealthCheckRequest.FromString,
            response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
    })
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def latency(target, calls):
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                   response_deserializer=health_pb2.HealthCheckResponse.FromString)
        request = health_pb2.HealthCheckRequest(service=PAYLOAD)
        for _ in range(min(calls, 2000)):
            call(request)
        samples = []
        for _ in range(calls):
            start = time.perf_counter_ns()
            call(request)
            samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return {"p50_us": samples[len(samples) // 2] / 1000, "p99_us": samples[int(len(samples) * 0.99)] / 1000}


async def throughput(target, concurrency, seconds):
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                   response_deserializer=health_pb2.HealthCheckResponse.FromString)
        request = health_pb2.HealthCheckRequest(service=PAYLOAD)
        for _ in range(500):
            await call(request)
        counts = [0] * concurrency
        stop_at = time.perf_counter() + seconds

        async def worker(index):
            while time.perf_counter() < stop_at:
                await call(request)
                counts[index] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return {"calls": sum(counts), "seconds": time.perf_counter() - start}


def main():
    mode = sys.argv[1]
    if mode == "serve":
        serve()
        return
    target = sys.argv[3]
    if mode == "latency":
        result = latency(target, int(sys.argv[4]))
    else:
        result = asyncio.run(throughput(target, int(sys.argv[4]), float(sys.argv[5])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
