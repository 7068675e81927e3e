"""Omen's model contract in Python: the windows and normalisation the Rust scoring engine uses.

The engine (scoring/src/series.rs, robust.rs) and this module must agree exactly; the golden test
(scoring/tests/golden.rs) checks it against testdata/golden.json written by train.py.
"""

import numpy as np

WINDOW = 32
MIN_HISTORY = 8
INPUT_CLIP = 50.0


def windows(x):
    """Window before every point t >= 1: the last WINDOW values, left-padded with the oldest one."""
    padded = np.concatenate([np.full(WINDOW - 1, x[0]), x])
    view = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)
    # view[t - 1] holds the window before point t (t = 1 .. len(x) - 1).
    return view[: len(x) - 1]


def normalisers(w):
    """Location (median) and scale: max(1.4826 MAD, 1.2533 mean |x - median|, 1e-3 |median|, 1e-9)."""
    location = np.median(w, axis=1)
    deviation = np.abs(w - location[:, None])
    mad = np.median(deviation, axis=1)
    mean_abs = deviation.mean(axis=1)
    scale = np.maximum.reduce([1.4826 * mad, 1.2533 * mean_abs, 1e-3 * np.abs(location), np.full_like(mad, 1e-9)])
    return location, scale


def prepare(x):
    """(normalised windows, z of the scored values, location, scale, index) for points with enough history."""
    w = windows(x)
    t = np.arange(1, len(x))
    keep = t >= MIN_HISTORY
    w, t = w[keep], t[keep]
    location, scale = normalisers(w)
    z_windows = (w - location[:, None]) / scale[:, None]
    z = (x[t] - location) / scale
    return z_windows, z, location, scale, t
