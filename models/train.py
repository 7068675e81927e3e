"""Trains Omen's default anomaly model and exports it as models/omen-default.onnx.

A forecaster reads the normalised window (see contract.py) and predicts the next normalised value
(`expected`) and the typical size of its error (`scale`). Both heads are small ReLU networks
(scikit-learn MLPRegressor) written out as plain ONNX MatMul/Add/Relu/Exp nodes. The threshold k is
calibrated on held-out anomaly-free data so that score 1.0 (|z - expected| = k * scale) is exceeded
by about 0.2% of normal points of continuous kinds (CALIBRATION_KINDS).

    models/setup-venv.sh && models/.venv/bin/python models/train.py [--seed 7]
"""

import argparse
import json
import os
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from sklearn.neural_network import MLPRegressor

import contract
import synth

HERE = os.path.dirname(os.path.abspath(__file__))
NORMAL_QUANTILE = 0.998
# Kinds whose normal behaviour is continuous noise: k is calibrated on these. Step-like kinds (level
# changes, garbage-collection drops, blips on a constant) contain genuine discontinuities that the
# score is meant to flag, so they would only inflate k.
CALIBRATION_KINDS = ("seasonal", "counter_rate", "ar1", "latency")
TARGET_CLIP = 20.0
VERSION = "1.0.0"


def dataset(rng, series, length):
    xs, ys = [], []
    for _ in range(series):
        x = synth.normal_series(rng, length)
        w, z, *_ = contract.prepare(x)
        xs.append(np.clip(w, -contract.INPUT_CLIP, contract.INPUT_CLIP))
        ys.append(np.clip(z, -TARGET_CLIP, TARGET_CLIP))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


def dense(name, layers, source, nodes, inits, last_activation=None):
    """Appends MatMul/Add(/Relu) nodes for an MLP's weights; returns the output tensor name."""
    current = source
    count = len(layers)
    for i, (weight, bias) in enumerate(layers):
        w, b, mm, out = f"{name}_w{i}", f"{name}_b{i}", f"{name}_mm{i}", f"{name}_h{i}"
        inits += [helper.make_tensor(w, TensorProto.FLOAT, weight.shape, weight.astype(np.float32).ravel()),
                  helper.make_tensor(b, TensorProto.FLOAT, bias.shape, bias.astype(np.float32).ravel())]
        nodes += [helper.make_node("MatMul", [current, w], [mm]), helper.make_node("Add", [mm, b], [out])]
        current = out
        if i < count - 1:
            nodes.append(helper.make_node("Relu", [current], [f"{out}_relu"]))
            current = f"{out}_relu"
    return current


def export(mean_net, scale_net, k, trained_on):
    nodes, inits = [], []
    inits += [helper.make_tensor("clip_lo", TensorProto.FLOAT, [], [-contract.INPUT_CLIP]),
              helper.make_tensor("clip_hi", TensorProto.FLOAT, [], [contract.INPUT_CLIP])]
    nodes.append(helper.make_node("Clip", ["window", "clip_lo", "clip_hi"], ["clipped"]))
    layers = lambda net: list(zip(net.coefs_, net.intercepts_))  # noqa: E731
    mean_out = dense("mean", layers(mean_net), "clipped", nodes, inits)
    nodes.append(helper.make_node("Identity", [mean_out], ["expected"]))
    log_scale = dense("scale", layers(scale_net), "clipped", nodes, inits)
    nodes.append(helper.make_node("Exp", [log_scale], ["scale"]))
    graph = helper.make_graph(
        nodes, "omen_default",
        [helper.make_tensor_value_info("window", TensorProto.FLOAT, ["N", contract.WINDOW])],
        [helper.make_tensor_value_info("expected", TensorProto.FLOAT, ["N", 1]),
         helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N", 1])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="omen-train")
    model.ir_version = 8
    for key, value in {"omen.contract": "1", "omen.window": str(contract.WINDOW), "omen.threshold": f"{k:.4f}",
                       "omen.min_history": str(contract.MIN_HISTORY), "omen.name": "omen-default",
                       "omen.version": VERSION, "omen.trained_on": trained_on}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def run(session, z_windows):
    expected, scale = session.run(["expected", "scale"], {"window": z_windows.astype(np.float32)})
    return expected[:, 0].astype(np.float64), scale[:, 0].astype(np.float64)


def scores(session, x, k):
    w, z, location, scale, t = contract.prepare(x)
    e, sc = run(session, w)
    return t, np.abs(z - e) / (k * sc), location, scale, e, sc


def golden(session, k, rng):
    """Reference outputs of the exported model for a few series, in raw units, for the Rust test."""
    n = 60
    t = np.arange(n)
    cases = {
        "sine": 50 + 10 * np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.5, n),
        "flat_then_spike": np.where(t == 45, 140.0, 100.0 + 0.1 * (t % 3)),
        "ramp": 5 + 0.3 * t + rng.normal(0, 0.2, n),
        "counter_rate": rng.poisson(40, n) / 15.0,
    }
    out = {"threshold": k, "tolerance": {"relative": 1e-4, "absolute": 1e-5}, "series": []}
    for name, x in cases.items():
        idx, score, location, scale, e, sc = scores(session, x, k)
        points = []
        for j, i in enumerate(idx):
            points.append({"index": int(i), "score": float(score[j]),
                           "expected": float(location[j] + scale[j] * e[j]),
                           "lower": float(location[j] + scale[j] * (e[j] - k * sc[j])),
                           "upper": float(location[j] + scale[j] * (e[j] + k * sc[j]))})
        out["series"].append({"name": name, "values": [float(v) for v in x], "scored": points})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--series", type=int, default=900)
    parser.add_argument("--length", type=int, default=700)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.time()

    x, y = dataset(rng, args.series, args.length)
    pick = rng.choice(len(x), size=min(len(x), 300_000), replace=False)
    x, y = x[pick], y[pick]
    mean_net = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=25, batch_size=512, learning_rate_init=2e-3,
                            early_stopping=True, random_state=args.seed).fit(x, y)
    residual = np.abs(y - mean_net.predict(x))
    scale_net = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, batch_size=512, learning_rate_init=2e-3,
                             early_stopping=True, random_state=args.seed).fit(x, np.log(residual + 0.05))

    trained_on = (f"synthetic server metrics ({args.series} series x {args.length} points, kinds: "
                  f"{', '.join(synth.KINDS)}; seed {args.seed})")
    model = export(mean_net, scale_net, 1.0, trained_on)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    # Calibrate k on fresh anomaly-free series: the NORMAL_QUANTILE of |z - e| / scale.
    ratios = []
    for i in range(200):
        kind = CALIBRATION_KINDS[i % len(CALIBRATION_KINDS)]
        _, s, *_ = scores(session, synth.normal_series(rng, args.length, kind), 1.0)
        ratios.append(s)
    k = float(np.quantile(np.concatenate(ratios), NORMAL_QUANTILE))
    model = export(mean_net, scale_net, k, trained_on)
    path = os.path.join(HERE, "omen-default.onnx")
    onnx.save(model, path)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    # Held-out evaluation with injected anomalies: point-wise precision/recall at score > 1.
    tp = fp = fn = normal_points = normal_alerts = events = detected = 0
    for _ in range(300):
        clean = synth.normal_series(rng, args.length)
        dirty, labels = synth.inject(rng, clean, 3)
        idx, s, *_ = scores(session, dirty, k)
        alert, truth = s > 1.0, labels[idx]
        tp += int(np.sum(alert & truth)); fp += int(np.sum(alert & ~truth)); fn += int(np.sum(~alert & truth))
        # Event level: a labelled run counts as detected when any point of it, or of the 5 after, alerts.
        flagged = np.zeros(len(dirty), dtype=bool)
        flagged[idx[alert]] = True
        starts = np.flatnonzero(labels & ~np.concatenate([[False], labels[:-1]]))
        for start in starts:
            end = start
            while end + 1 < len(labels) and labels[end + 1]:
                end += 1
            events += 1
            detected += bool(flagged[start : end + 6].any())
        _, s_clean, *_ = scores(session, clean, k)
        normal_points += len(s_clean); normal_alerts += int(np.sum(s_clean > 1.0))
    report = {
        "k": k, "window": contract.WINDOW, "min_history": contract.MIN_HISTORY, "bytes": os.path.getsize(path),
        "train_windows": int(len(x)), "mean_net_loss": float(mean_net.loss_), "scale_net_loss": float(scale_net.loss_),
        "heldout_precision": tp / max(1, tp + fp), "heldout_recall": tp / max(1, tp + fn),
        "heldout_event_recall": detected / max(1, events),
        "normal_false_alert_rate": normal_alerts / max(1, normal_points), "seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(HERE, "eval-train.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(HERE, "testdata", "golden.json"), "w") as f:
        json.dump(golden(session, k, np.random.default_rng(args.seed + 1)), f, indent=1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
