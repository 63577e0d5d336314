#!/usr/bin/env python3
"""A small grpcurl for servers with reflection (Debian 12 has no grpcurl package): lists
services, describes a symbol and calls a method with JSON in and JSON out, learning the
types from the server (grpcio-reflection), with no .proto files or stubs.

    grpc_reflect.py HOST:PORT list
    grpc_reflect.py HOST:PORT describe jetserve.v1.Jetserve
    grpc_reflect.py HOST:PORT call jetserve.v1.Jetserve/Generate '{"model": "m", "prompt": "Hi"}'

Server-streaming methods print one JSON object per message.
"""
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    target, command = argv[1], argv[2]
    channel = grpc.insecure_channel(target)
    db = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(db)
    if command == "list":
        for service in db.get_services():
            print(service)
        return 0
    if command == "describe" and len(argv) == 4:
        symbol = pool.FindServiceByName(argv[3])
        for m in symbol.methods:
            stream = "stream " if m.server_streaming else ""
            print(f"rpc {m.name}({m.input_type.full_name}) returns "
                  f"({stream}{m.output_type.full_name})")
        return 0
    if command == "call" and len(argv) == 5:
        service_name, method_name = argv[3].rsplit("/", 1)
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request = json_format.Parse(argv[4], request_class())
        path = f"/{service_name}/{method_name}"
        kwargs = dict(request_serializer=lambda m: m.SerializeToString(),
                      response_deserializer=response_class.FromString)
        try:
            if method.server_streaming:
                responses = channel.unary_stream(path, **kwargs)(request)
            else:
                responses = [channel.unary_unary(path, **kwargs)(request)]
            for response in responses:
                print(json_format.MessageToJson(response, indent=None))
        except grpc.RpcError as e:
            print(f"ERROR: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
