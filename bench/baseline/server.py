"""Baseline for Omen's comparison benchmark: the design many teams start with.

A Python HTTP service (FastAPI on uvicorn) that accepts Prometheus remote write 1.0, keeps a window of
recent values per series in a dict, normalises each window exactly as Omen's scoring crate does
(median and MAD) and scores every sample of the request with onnxruntime and the same ONNX model in
one batched call. It forwards nothing downstream, which only flatters it.

Run: uvicorn --app-dir bench/baseline server:app --port 19301  (OMEN_MODEL selects the model file)
"""

import os
from collections import deque

import cramjam
import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request, Response
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def _remote_write_messages():
    """Builds the remote-write 1.0 messages the baseline needs (fields not listed are skipped)."""
    proto = descriptor_pb2.FileDescriptorProto(name="baseline_rw.proto", package="baseline", syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto

    def message(name, fields):
        m = proto.message_type.add(name=name)
        for number, (field_name, kind, type_name, repeated) in enumerate(fields, start=1):
            if field_name is None:
                continue
            field = m.field.add(name=field_name, number=number, type=kind)
            field.label = f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL
            if type_name:
                field.type_name = type_name

    message("Pair", [("name", f.TYPE_STRING, None, False), ("value", f.TYPE_STRING, None, False)])
    message("Point", [("value", f.TYPE_DOUBLE, None, False), ("timestamp", f.TYPE_INT64, None, False)])
    message("Series", [("labels", f.TYPE_MESSAGE, ".baseline.Pair", True),
                       ("samples", f.TYPE_MESSAGE, ".baseline.Point", True)])
    message("Write", [("timeseries", f.TYPE_MESSAGE, ".baseline.Series", True)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("baseline.Write"))


Write = _remote_write_messages()
session = ort.InferenceSession(os.environ.get("OMEN_MODEL", "models/omen-default.onnx"),
                               providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
WINDOW = int(meta["omen.window"])
THRESHOLD = float(meta["omen.threshold"])
MIN_HISTORY = int(meta.get("omen.min_history", "1"))
history: dict[tuple, deque] = {}
app = FastAPI()


def _normalise(window):
    location = np.median(window)
    mad = np.median(np.abs(window - location))
    scale = max(1.4826 * mad, 1e-3 * abs(location), 1e-9)
    return location, scale


@app.post("/api/v1/write")
async def write(request: Request) -> Response:
    try:
        body = cramjam.snappy.decompress_raw(await request.body())
        parsed = Write.FromString(bytes(body))
    except Exception as error:  # noqa: BLE001 - any decode failure is the client's
        return Response(f"bad request: {error}\n", status_code=400)
    rows, values, norms = [], [], []
    for series in parsed.timeseries:
        key = tuple(sorted((p.name, p.value) for p in series.labels))
        past = history.setdefault(key, deque(maxlen=WINDOW))
        for point in series.samples:
            if len(past) >= MIN_HISTORY:
                window = np.fromiter(past, dtype=np.float64)
                if len(window) < WINDOW:
                    window = np.concatenate([np.full(WINDOW - len(window), window[0]), window])
                location, scale = _normalise(window)
                rows.append((window - location) / scale)
                values.append(point.value)
                norms.append((location, scale))
            past.append(point.value)
    if rows:
        expected, spread = session.run(["expected", "scale"], {"window": np.asarray(rows, dtype=np.float32)})
        loc = np.array([n[0] for n in norms])
        scl = np.array([n[1] for n in norms])
        z = (np.asarray(values) - loc) / scl
        _scores = np.abs(z - expected[:, 0]) / (THRESHOLD * spread[:, 0])
    return Response(status_code=204)
