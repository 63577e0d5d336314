#!/usr/bin/env python3
"""Writes corpus/onnx/initializers.onnx: a small graph whose initializers use each storage
the loader resolves (raw_data, float_data, int64_data, int32_data for FLOAT16, a reference to
external data that is absent). Needs the `onnx` package (tests/requirements.txt)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")  # raw_data
b = helper.make_tensor("b", TensorProto.FLOAT, [3], [0.5, -1.0, 2.0])  # float_data
shape = helper.make_tensor("shape", TensorProto.INT64, [2], [3, 2])
half = helper.make_tensor("half", TensorProto.FLOAT16, [2], np.array([1, 2], np.float16).view(np.uint16).tolist())
ext = TensorProto(name="ext", data_type=TensorProto.FLOAT, dims=[2])
ext.data_location = TensorProto.EXTERNAL
for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "8")):
    e = ext.external_data.add()
    e.key, e.value = k, v
nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
         helper.make_node("Add", ["y", "b"], ["z"], name="add"),
         helper.make_node("Reshape", ["z", "shape"], ["out"], name="reshape")]
graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                          [w, b, shape, half])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
with open(os.path.join(HERE, "corpus", "onnx", "initializers.onnx"), "wb") as f:
    f.write(model.SerializeToString())
model.graph.initializer.append(ext)
with open(os.path.join(HERE, "corpus", "onnx", "external_missing.onnx"), "wb") as f:
    f.write(model.SerializeToString())
