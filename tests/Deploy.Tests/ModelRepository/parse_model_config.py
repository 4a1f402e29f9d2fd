"""Parse a Triton config.pbtxt as inference.ModelConfig protobuf text format and print it as JSON.

Usage: parse_model_config.py <proto dir> <config.pbtxt>

The message classes are generated at run time from our model_config.proto (the same file
TritonClient compiles), so the check uses Triton's schema as this repository states it.
text_format.Parse rejects unknown fields, wrong types and malformed text; the error goes to
stderr and the exit code is 1.
"""
import importlib
import json
import os
import sys
import tempfile

from grpc_tools import protoc
from google.protobuf import json_format, text_format


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    proto_dir, config_path = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out_dir:
        status = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
                              os.path.join(proto_dir, "model_config.proto")])
        if status != 0:
            print(f"protoc failed on {proto_dir}/model_config.proto", file=sys.stderr)
            return 2
        sys.path.insert(0, out_dir)
        model_config_pb2 = importlib.import_module("model_config_pb2")
        config = model_config_pb2.ModelConfig()
        with open(config_path, encoding="utf-8") as f:
            text = f.read()
        try:
            text_format.Parse(text, config)
        except text_format.ParseError as e:
            print(f"{config_path}: {e}", file=sys.stderr)
            return 1
    print(json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
