"""A standard gRPC client (grpcio, stubs generated from our .proto) calling the Preprocessor (gptj.v1.Preprocessor).

Usage: preprocessor_client.py <host:port> <scenario> (stubs on PYTHONPATH)
The Preprocessor's backend is kserve_server.py, whose gptj model "generates" the prompt's tokens over and over.
Prints one JSON object with what it saw. Scenarios:
  generate  Tokenize, unary Generate (n = 2), server-streaming GenerateStream, with a decomposed Vietnamese prompt
  deadline  GenerateStream and Generate of endless backend requests with a 1.5 s deadline
  cancel    GenerateStream of an endless backend request, cancelled after its third message
  errors    the backend's Vietnamese RESOURCE_EXHAUSTED mapped by meaning, an INVALID_ARGUMENT, both with their
            google.rpc.Status details,
            a `-bin` header sent and a `-bin` trailer read
  large     Tokenize and Detokenize of a text of several MB, and a message over the Preprocessor's limit
"""
import json
import sys
import unicodedata

import grpc
from client_support import cancel_after, status
from gptj.v1 import preprocessor_pb2 as pb
from gptj.v1 import preprocessor_pb2_grpc as pb_grpc

PROMPT = unicodedata.normalize("NFD", "Chào Việt")  # decomposed, as some keyboards type it; the fixture's context is 32
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # PreprocessorApp.MaxMessageBytes
PROBE = bytes(range(255, -1, -1))  # not UTF-8, every byte value


def completion(c):
    return {"index": c.index, "text": c.text, "finish": pb.FinishReason.Name(c.finish_reason), "tokens": c.completion_tokens}


def generate(stub):
    tokens = stub.Tokenize(pb.TokenizeRequest(text=PROMPT), timeout=30)
    max_new = 2 * len(tokens.token_ids)
    unary = stub.Generate(pb.GenerateRequest(prompt=PROMPT, n=2, max_new_tokens=max_new, request_id="py-generate"), timeout=30)
    compressed = stub.Generate(pb.GenerateRequest(prompt=PROMPT, max_new_tokens=max_new, request_id="py-gzip"), timeout=30,
                               compression=grpc.Compression.Gzip)
    deltas, summary = [], None
    for message in stub.GenerateStream(pb.GenerateRequest(prompt=PROMPT, max_new_tokens=max_new, request_id="py-stream"), timeout=30):
        if message.HasField("delta"):
            deltas.append({"index": message.delta.index, "text": message.delta.text, "ids": list(message.delta.token_ids)})
        else:
            summary = message.summary
    return {
        "normalized": tokens.normalized_text,
        "prompt_tokens": len(tokens.token_ids),
        "unary": {"request_id": unary.request_id, "model": unary.model, "prompt_tokens": unary.usage.prompt_tokens,
                  "completions": [completion(c) for c in unary.completions]},
        "gzip": {"request_id": compressed.request_id, "completions": [completion(c) for c in compressed.completions]},
        "stream": {"deltas": deltas, "request_id": summary.request_id,
                   "completions": [completion(c) for c in summary.completions]},
    }


def deadline(stub):
    result = {}
    try:
        for _ in stub.GenerateStream(pb.GenerateRequest(prompt="Xin chao", request_id="endless-stream-deadline"), timeout=1.5):
            pass
        result["stream"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["stream"] = status(error)
    try:
        stub.Generate(pb.GenerateRequest(prompt="Xin chao", request_id="endless-unary-deadline"), timeout=1.5)
        result["unary"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["unary"] = status(error)
    return result


def cancel(stub):
    return cancel_after(stub.GenerateStream(pb.GenerateRequest(prompt="Xin chao", request_id="endless-cancel"), timeout=60), 3)


def errors(stub):
    result = {}
    try:
        stub.Generate(pb.GenerateRequest(prompt=PROMPT, request_id="fail-queue"), timeout=30)
        result["backend"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["backend"] = status(error)
    try:
        stub.Generate(pb.GenerateRequest(prompt=PROMPT, max_new_tokens=0), timeout=30)
        result["invalid"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["invalid"] = status(error)
    _, call = stub.Tokenize.with_call(pb.TokenizeRequest(text=PROMPT), timeout=30, metadata=(("gptj-probe-bin", PROBE),))
    result["bin_trailer_matches"] = dict(call.trailing_metadata()).get("gptj-probe-bin") == PROBE
    return result


def large(stub):
    text = "Tiếng Việt có dấu, chữ Quốc ngữ. " * 100_000  # 3.7 MB of UTF-8, some 9 MB with its ids
    tokens = stub.Tokenize(pb.TokenizeRequest(text=text), timeout=120)
    back = stub.Detokenize(pb.DetokenizeRequest(token_ids=tokens.token_ids), timeout=120)
    result = {
        "text_bytes": len(text.encode("utf-8")),
        "ids_bytes": pb.DetokenizeRequest(token_ids=tokens.token_ids).ByteSize(),
        "tokenize_response_bytes": tokens.ByteSize(),
        "round_trip": back.text == text,
    }
    try:
        stub.Tokenize(pb.TokenizeRequest(text="x" * (MAX_MESSAGE_BYTES + 1)), timeout=120)
        result["over"] = {"code": "OK"}
    except grpc.RpcError as error:
        result["over"] = status(error)
    return result


def main():
    channel = grpc.insecure_channel(sys.argv[1], options=[("grpc.max_receive_message_length", 4 * MAX_MESSAGE_BYTES),
                                                          ("grpc.max_send_message_length", 4 * MAX_MESSAGE_BYTES)])
    stub = pb_grpc.PreprocessorStub(channel)
    scenario = {"generate": generate, "deadline": deadline, "cancel": cancel, "errors": errors, "large": large}[sys.argv[2]]
    print(json.dumps(scenario(stub), ensure_ascii=False))


if __name__ == "__main__":
    main()
