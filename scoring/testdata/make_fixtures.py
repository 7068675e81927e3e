"""Builds the small hand-written ONNX models the scoring crate's tests use.

naive-last.onnx: expected = last window value, scale = 1 (a naive forecaster whose outputs the tests
can compute by hand). Run with any Python that has `onnx` and `numpy`:

    python scoring/testdata/make_fixtures.py
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW = 8


def naive_last() -> onnx.ModelProto:
    window = helper.make_tensor_value_info("window", TensorProto.FLOAT, ["N", WINDOW])
    expected = helper.make_tensor_value_info("expected", TensorProto.FLOAT, ["N", 1])
    scale = helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N", 1])
    # Picks column W-1 by a matrix product with a one-hot vector, and a scale of 1 by 0*x+1.
    pick = np.zeros((WINDOW, 1), dtype=np.float32)
    pick[WINDOW - 1, 0] = 1.0
    zero = np.zeros((WINDOW, 1), dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["window", "pick"], ["expected"]),
        helper.make_node("MatMul", ["window", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "one"], ["scale"]),
    ]
    initializers = [
        helper.make_tensor("pick", TensorProto.FLOAT, pick.shape, pick.flatten()),
        helper.make_tensor("zero", TensorProto.FLOAT, zero.shape, zero.flatten()),
        helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
    ]
    graph = helper.make_graph(nodes, "naive_last", [window], [expected, scale], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="omen-fixtures")
    model.ir_version = 8
    for key, value in {
        "omen.contract": "1",
        "omen.window": str(WINDOW),
        "omen.threshold": "4",
        "omen.min_history": "2",
        "omen.name": "naive-last",
        "omen.version": "test",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(naive_last(), os.path.join(HERE, "naive-last.onnx"))
