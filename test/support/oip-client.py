#!/usr/bin/python3
"""An independent Open Inference Protocol client: Python's grpcio with
modules that protoc generates, at run time, from the specification's own
open_inference_grpc.proto (test/fixtures/open-inference-protocol/), and
urllib for the REST binding.

  oip-client.py ready      HOST:PORT
  oip-client.py metadata   HOST:PORT MODEL
  oip-client.py infer      HOST:PORT MODEL DATATYPE ROWS_JSON [--raw] [--outputs NAME,...]
  oip-client.py rest-infer URL MODEL DATATYPE ROWS_JSON [--binary-input] [--binary-output]

ROWS_JSON is a list of rows of four measurements. Every command prints one
JSON object: the response, with each output's values decoded into "data"
(from typed contents, from raw_output_contents, or from the binary part of
a REST answer: INT64 and FP64 little-endian, BYTES behind a 4-byte
little-endian length); or {"error": {"code": ..., "details": ...}} for a
failed gRPC call, {"status": ..., "body": ...} for a REST error answer.

Needs python3-grpcio, python3-protobuf and protobuf-compiler (protoc).
"""
import atexit
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import grpc
from google.protobuf import json_format

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "open-inference-protocol")

# struct format of one element, and the InferTensorContents field, of each datatype.
FORMATS = {
    "FP64": ("d", "fp64_contents"),
    "FP32": ("f", "fp32_contents"),
    "FP16": ("e", None),
    "INT64": ("q", "int64_contents"),
    "INT32": ("i", "int_contents"),
    "INT16": ("h", "int_contents"),
    "INT8": ("b", "int_contents"),
    "UINT64": ("Q", "uint64_contents"),
    "UINT32": ("I", "uint_contents"),
    "UINT16": ("H", "uint_contents"),
    "UINT8": ("B", "uint_contents"),
}


def compile_spec():
    """protoc --python_out for the specification's proto into a temp dir; returns the generated module."""
    out = tempfile.mkdtemp(prefix="oip-client-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["/usr/bin/protoc", f"-I{FIXTURE}", f"--python_out={out}", "open_inference_grpc.proto"], check=True)
    spec = importlib.util.spec_from_file_location("oip_pb2", os.path.join(out, "open_inference_grpc_pb2.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pb = compile_spec()


def stub(channel, method, request_cls, response_cls):
    return channel.unary_unary(
        f"/inference.GRPCInferenceService/{method}",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )


def pack(datatype, values):
    fmt, _ = FORMATS[datatype]
    return struct.pack(f"<{len(values)}{fmt}", *values)


def decode_bytes(datatype, raw):
    """An output's values from its little-endian bytes."""
    if datatype == "BYTES":
        out, o = [], 0
        while o < len(raw):
            (n,) = struct.unpack_from("<I", raw, o)
            out.append(raw[o + 4 : o + 4 + n].decode("utf8"))
            o += 4 + n
        return out
    fmt, _ = FORMATS[datatype]
    return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))


def decode_contents(output):
    if output.datatype == "BYTES":
        return [b.decode("utf8") for b in output.contents.bytes_contents]
    return list(getattr(output.contents, FORMATS[output.datatype][1]))


def grpc_error(err):
    return {"error": {"code": err.code().name, "details": err.details()}}


def ready(address):
    with grpc.insecure_channel(address) as channel:
        call = stub(channel, "ServerReady", pb.ServerReadyRequest, pb.ServerReadyResponse)
        return {"ready": call(pb.ServerReadyRequest(), timeout=10).ready}


def metadata(address, model):
    with grpc.insecure_channel(address) as channel:
        call = stub(channel, "ModelMetadata", pb.ModelMetadataRequest, pb.ModelMetadataResponse)
        try:
            res = call(pb.ModelMetadataRequest(name=model), timeout=10)
        except grpc.RpcError as err:
            return grpc_error(err)
        return json_format.MessageToDict(res, preserving_proto_field_name=True)


def infer(address, model, datatype, rows, raw=False, outputs=()):
    values = [v for row in rows for v in row]
    request = pb.ModelInferRequest(model_name=model, id="python-1")
    request.parameters["client"].string_param = "grpcio"
    tensor = request.inputs.add(name="input-0", datatype=datatype, shape=[len(rows), 4])
    if raw:
        request.raw_input_contents.append(pack(datatype, values))
    else:
        getattr(tensor.contents, FORMATS[datatype][1]).extend(values)
    for name in outputs:
        request.outputs.add(name=name)
    with grpc.insecure_channel(address) as channel:
        call = stub(channel, "ModelInfer", pb.ModelInferRequest, pb.ModelInferResponse)
        try:
            res = call(request, timeout=10)
        except grpc.RpcError as err:
            return grpc_error(err)
    answer = {
        "model_name": res.model_name,
        "model_version": res.model_version,
        "id": res.id,
        "parameters": {k: v.string_param for k, v in res.parameters.items()},
        "raw": len(res.raw_output_contents) > 0,
        "outputs": [],
    }
    for i, output in enumerate(res.outputs):
        if answer["raw"]:
            if output.HasField("contents"):
                raise SystemExit(f"output {output.name} has contents and raw_output_contents")
            data = decode_bytes(output.datatype, res.raw_output_contents[i])
        else:
            data = decode_contents(output)
        answer["outputs"].append({"name": output.name, "datatype": output.datatype, "shape": list(output.shape), "data": data})
    return answer


def rest_infer(url, model, datatype, rows, binary_input=False, binary_output=False):
    tensor = {"name": "input-0", "shape": [len(rows), 4], "datatype": datatype}
    body = {"id": "python-2", "inputs": [tensor]}
    if binary_output:
        body["parameters"] = {"binary_data_output": True}
    headers = {"Content-Type": "application/json"}
    tail = b""
    if binary_input:
        tail = pack(datatype, [v for row in rows for v in row])
        tensor["parameters"] = {"binary_data_size": len(tail)}
    else:
        # Nested, as KServe's and MLServer's own examples send it.
        tensor["data"] = rows
    head = json.dumps(body).encode("utf8")
    if binary_input:
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
    request = urllib.request.Request(f"{url}/v2/models/{model}/infer", data=head + tail, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as res:
            payload = res.read()
            length = res.headers.get("Inference-Header-Content-Length")
    except urllib.error.HTTPError as err:
        return {"status": err.code, "body": json.loads(err.read())}
    if length is None:
        return json.loads(payload)
    answer = json.loads(payload[: int(length)])
    offset = int(length)
    for output in answer["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            output["data"] = decode_bytes(output["datatype"], payload[offset : offset + size])
            offset += size
    if offset != len(payload):
        raise SystemExit(f"{len(payload) - offset} bytes of the answer belong to no output")
    return answer


def main(argv):
    command, target, *rest = argv
    flags = {a for a in rest if a.startswith("--") and a != "--outputs"}
    outputs = ()
    if "--outputs" in rest:
        outputs = rest[rest.index("--outputs") + 1].split(",")
        rest = [a for a in rest if a not in ("--outputs", ",".join(outputs))]
    args = [a for a in rest if not a.startswith("--")]
    if command == "ready":
        result = ready(target)
    elif command == "metadata":
        result = metadata(target, args[0])
    elif command == "infer":
        result = infer(target, args[0], args[1], json.loads(args[2]), "--raw" in flags, outputs)
    elif command == "rest-infer":
        result = rest_infer(target, args[0], args[1], json.loads(args[2]), "--binary-input" in flags, "--binary-output" in flags)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
