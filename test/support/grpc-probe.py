#!/usr/bin/python3
"""A small grpcurl stand-in on Python's grpcio: an independent gRPC
implementation that learns everything from server reflection.

  grpc-probe.py list     HOST:PORT [--v1alpha]
  grpc-probe.py describe HOST:PORT SYMBOL
  grpc-probe.py call     HOST:PORT SERVICE/METHOD JSON
  grpc-probe.py health   HOST:PORT [SERVICE]
  grpc-probe.py resolve-default HOST:PORT SYMBOL...

Output imitates grpcurl's: JSON with lowerCamelCase names for responses;
"ERROR:\n  Code: ...\n  Message: ...\n  Details: ..." and exit code 64 + the
status code for failed calls. Error details (google.rpc.Status and the
messages packed in it) are decoded with what reflection says of them, as
grpcurl does.

`resolve-default` resolves symbols into protobuf's default descriptor pool
after importing the standard health_pb2 into it, skipping files the pool
already holds by name: what a client that mixes generated modules with
reflection does. It prints "resolved SYMBOL" per symbol.

Needs python3-grpcio, python3-protobuf, protobuf-compiler (protoc) and
grpc-proto (the reflection and health .proto files).
"""
import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

GRPC_PROTO = "/usr/share/grpc-proto"

def compile_protos():
    """protoc --python_out for reflection and health into a temp dir."""
    out = tempfile.mkdtemp(prefix="grpc-probe-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(
        [
            "protoc",
            f"-I{GRPC_PROTO}",
            f"--python_out={out}",
            "grpc/reflection/v1/reflection.proto",
            "grpc/reflection/v1alpha/reflection.proto",
            "grpc/health/v1/health.proto",
        ],
        check=True,
    )
    return out


def load(out, relative, name):
    """Imports a generated module by path (its package names clash with grpcio's)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(out, relative))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OUT = compile_protos()
health_pb2 = load(OUT, "grpc/health/v1/health_pb2.py", "probe_health_pb2")
refl_v1 = load(OUT, "grpc/reflection/v1/reflection_pb2.py", "probe_reflection_v1_pb2")
refl_v1alpha = load(OUT, "grpc/reflection/v1alpha/reflection_pb2.py", "probe_reflection_v1alpha_pb2")

CODE_NAMES = {c.value[0]: "".join(w.capitalize() for w in c.name.split("_")) for c in grpc.StatusCode}
CODE_NAMES[4] = "DeadlineExceeded"


class Reflection:
    def __init__(self, channel, alpha=False, pool=None):
        self.mod = refl_v1alpha if alpha else refl_v1
        pkg = "grpc.reflection.v1alpha" if alpha else "grpc.reflection.v1"
        self.rpc = channel.stream_stream(
            f"/{pkg}.ServerReflection/ServerReflectionInfo",
            request_serializer=self.mod.ServerReflectionRequest.SerializeToString,
            response_deserializer=self.mod.ServerReflectionResponse.FromString,
        )
        self.pool = pool if pool is not None else descriptor_pool.DescriptorPool()
        self.added = set()

    def ask(self, **kwargs):
        (response,) = list(self.rpc(iter([self.mod.ServerReflectionRequest(**kwargs)]), timeout=10))
        if response.HasField("error_response"):
            raise RuntimeError(f"reflection: {response.error_response.error_message}")
        return response

    def list_services(self):
        return [s.name for s in self.ask(list_services="*").list_services_response.service]

    def _add(self, raw_files):
        protos = {}
        for raw in raw_files:
            fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
            protos[fdp.name] = fdp

        def add(name):
            if name in self.added:
                return
            try:
                self.pool.FindFileByName(name)
                self.added.add(name)
                return
            except KeyError:
                pass
            fdp = protos.get(name)
            if fdp is None:
                fdp = descriptor_pb2.FileDescriptorProto.FromString(
                    self.ask(file_by_filename=name).file_descriptor_response.file_descriptor_proto[0]
                )
                protos[name] = fdp
            for dep in fdp.dependency:
                add(dep)
            self.pool.Add(fdp)
            self.added.add(name)

        for name in list(protos):
            add(name)

    def resolve(self, symbol):
        self._add(self.ask(file_containing_symbol=symbol).file_descriptor_response.file_descriptor_proto)


def describe_field(field):
    label = "repeated " if field.label == field.LABEL_REPEATED else ""
    if field.has_presence and field.containing_oneof is not None and field.containing_oneof.name.startswith("_"):
        label = "optional "
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            k, v = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            return f"map<{type_name(k)}, {type_name(v)}> {field.name} = {field.number};"
    return f"{label}{type_name(field)} {field.name} = {field.number};"


def type_name(field):
    if field.message_type is not None:
        return "." + field.message_type.full_name
    if field.enum_type is not None:
        return "." + field.enum_type.full_name
    names = {v: k[len("TYPE_"):].lower() for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()}
    return names[field.type]


def describe(refl, symbol):
    refl.resolve(symbol)
    pool = refl.pool
    try:
        svc = pool.FindServiceByName(symbol)
        lines = [f"{symbol} is a service:", f"service {svc.name} {{"]
        for m in svc.methods:
            lines.append(f"  rpc {m.name} ( .{m.input_type.full_name} ) returns ( .{m.output_type.full_name} );")
        return "\n".join(lines + ["}"])
    except KeyError:
        pass
    msg = pool.FindMessageTypeByName(symbol)
    lines = [f"{symbol} is a message:", f"message {msg.name} {{"]
    lines += [f"  {describe_field(f)}" for f in msg.fields]
    return "\n".join(lines + ["}"])


def message_class(refl, full_name):
    refl.resolve(full_name)
    return message_factory.MessageFactory(refl.pool).GetPrototype(refl.pool.FindMessageTypeByName(full_name))


def print_error(refl, err):
    code = err.code().value[0]
    print("ERROR:")
    print(f"  Code: {CODE_NAMES.get(code, code)}")
    print(f"  Message: {err.details()}")
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = message_class(refl, "google.rpc.Status").FromString(value)
            print("  Details:")
            for i, any_msg in enumerate(status.details, 1):
                detail = message_class(refl, any_msg.type_url.split("/")[-1]).FromString(any_msg.value)
                body = json.loads(json_format.MessageToJson(detail))
                print(f"  {i})\t" + json.dumps({"@type": any_msg.type_url, **body}))
    return 64 + code


def main(argv):
    command, address, *rest = argv
    alpha = "--v1alpha" in rest
    rest = [r for r in rest if r != "--v1alpha"]
    with grpc.insecure_channel(address) as channel:
        if command == "resolve-default":
            pool = descriptor_pool.Default()
            # health_pb2 (imported above) registered grpc/health/v1/health.proto there.
            pool.FindFileByName("grpc/health/v1/health.proto")
            refl = Reflection(channel, alpha, pool)
            for symbol in rest:
                refl.resolve(symbol)
                print(f"resolved {symbol}")
            return 0
        refl = Reflection(channel, alpha)
        if command == "list":
            print("\n".join(sorted(refl.list_services())))
            return 0
        if command == "describe":
            print(describe(refl, rest[0]))
            return 0
        if command == "health":
            stub = channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            try:
                res = stub(health_pb2.HealthCheckRequest(service=rest[0] if rest else ""), timeout=10)
            except grpc.RpcError as err:
                return print_error(refl, err)
            print(json_format.MessageToJson(res, indent=2))
            return 0
        if command == "call":
            method_path, body = rest
            service_name, method_name = method_path.split("/")
            refl.resolve(service_name)
            method = refl.pool.FindServiceByName(service_name).methods_by_name[method_name]
            factory = message_factory.MessageFactory(refl.pool)
            request_cls = factory.GetPrototype(method.input_type)
            response_cls = factory.GetPrototype(method.output_type)
            stub = channel.unary_unary(
                f"/{service_name}/{method_name}",
                request_serializer=request_cls.SerializeToString,
                response_deserializer=response_cls.FromString,
            )
            try:
                res = stub(json_format.Parse(body, request_cls()), timeout=30)
            except grpc.RpcError as err:
                return print_error(refl, err)
            print(json_format.MessageToJson(res, indent=2))
            return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
