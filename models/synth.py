"""Synthetic server-metric series with labelled anomalies, for training and checking Omen's model.

Every generator returns a float64 array; `inject` adds anomalies to a copy and returns the labels
(one boolean per point). All randomness flows from the `numpy.random.Generator` passed in, so a
seed reproduces a data set exactly.
"""

import numpy as np

KINDS = ("seasonal", "counter_rate", "ar1", "steps", "low_counts", "latency", "memory", "flat_blips")


def seasonal(rng, n):
    """CPU-like: daily cycle (period in samples), optional weekly modulation, trend and noise."""
    period = rng.choice([96, 144, 288, 360])
    t = np.arange(n)
    level = rng.uniform(5, 500)
    amp = level * rng.uniform(0.05, 0.6)
    x = level + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.3:
        x += 0.3 * amp * np.sin(2 * np.pi * t / (7 * period))
    x += rng.uniform(-0.2, 0.2) * level * t / n
    noise = rng.choice(["gauss", "laplace", "small"])
    scale = level * (rng.uniform(0.005, 0.02) if noise == "small" else rng.uniform(0.02, 0.1))
    x += rng.laplace(0, scale, n) if noise == "laplace" else rng.normal(0, scale, n)
    return np.maximum(x, 0)


def counter_rate(rng, n):
    """Per-second rate of a request counter over 15 s steps: Poisson counts of a seasonal intensity."""
    t = np.arange(n)
    base = rng.uniform(0.2, 300)
    intensity = base * (1 + rng.uniform(0.1, 0.8) * np.sin(2 * np.pi * t / rng.choice([96, 288])))
    return rng.poisson(np.maximum(intensity, 0) * 15) / 15.0


def ar1(rng, n):
    """Queue depth or load average: an autoregressive process around a level."""
    phi = rng.uniform(0.5, 0.98)
    level = rng.uniform(1, 100)
    e = rng.normal(0, level * rng.uniform(0.01, 0.1), n)
    x = np.empty(n)
    x[0] = level
    for i in range(1, n):
        x[i] = level + phi * (x[i - 1] - level) + e[i]
    return x


def steps(rng, n):
    """Replica counts, connection pools: piecewise-constant levels with occasional changes."""
    x = np.empty(n)
    value = float(rng.integers(1, 20))
    for i in range(n):
        if rng.random() < 0.01:
            value = max(0.0, value + rng.choice([-1.0, 1.0]) * rng.integers(1, 3))
        x[i] = value
    return x + (rng.normal(0, 0.01, n) if rng.random() < 0.5 else 0)


def low_counts(rng, n):
    """Error counts per step: mostly zero, small integers now and then."""
    return rng.poisson(rng.uniform(0.02, 1.5), n).astype(float)


def latency(rng, n):
    """Request latency: log-normal around a seasonal median."""
    t = np.arange(n)
    median = rng.uniform(0.005, 0.5) * (1 + 0.3 * np.sin(2 * np.pi * t / 288))
    return median * np.exp(rng.normal(0, rng.uniform(0.05, 0.4), n))


def memory(rng, n):
    """Memory use: slow growth with garbage-collection drops."""
    x = np.empty(n)
    value = rng.uniform(1e8, 4e9)
    floor = value
    for i in range(n):
        value += value * rng.uniform(0, 0.002)
        if rng.random() < 0.02:
            value = floor * rng.uniform(1.0, 1.05)
        x[i] = value
    return x


def flat_blips(rng, n):
    """A constant gauge (config value, up) with rare tiny measurement noise."""
    x = np.full(n, float(rng.choice([0, 1, 100, 1024])))
    blips = rng.random(n) < 0.01
    x[blips] += rng.normal(0, 0.001 * max(1.0, abs(x[0])), blips.sum())
    return x


GENERATORS = dict(zip(KINDS, (seasonal, counter_rate, ar1, steps, low_counts, latency, memory, flat_blips)))


def normal_series(rng, n, kind=None):
    """One anomaly-free series of a random (or the given) kind."""
    kind = kind or rng.choice(KINDS)
    return GENERATORS[kind](rng, n)


def inject(rng, x, count):
    """Adds `count` anomalies of random kinds to a copy of `x`; returns (series, labels)."""
    x = x.copy()
    n = len(x)
    labels = np.zeros(n, dtype=bool)
    spread = np.std(np.diff(x)) + 1e-3 * (abs(np.median(x)) + 1e-9)
    level = abs(np.median(x)) + spread
    for _ in range(count):
        at = int(rng.integers(n // 5, n - 40))
        kind = rng.choice(["spike", "dip", "shift", "variance", "ramp", "flatline", "zero"])
        size = rng.uniform(6, 20) * spread
        if kind == "spike":
            x[at] += size + 0.3 * level
            labels[at] = True
        elif kind == "dip":
            x[at] -= size + 0.3 * level
            labels[at] = True
        elif kind == "shift":
            x[at:] += rng.choice([-1, 1]) * (size + 0.3 * level)
            labels[at : at + 5] = True
        elif kind == "variance":
            length = int(rng.integers(10, 30))
            x[at : at + length] += rng.normal(0, 5 * spread + 0.2 * level, len(x[at : at + length]))
            labels[at : at + length] = True
        elif kind == "ramp":
            length = int(rng.integers(20, 40))
            x[at : at + length] += np.linspace(0, size * 3 + level, len(x[at : at + length]))
            labels[at + length // 2 : at + length] = True
        elif kind == "flatline":
            length = int(rng.integers(20, 40))
            x[at : at + length] = x[at]
            labels[at + 8 : at + length] = True
        else:
            length = int(rng.integers(3, 15))
            x[at : at + length] = 0.0
            labels[at : at + length] = level > 5 * spread
    return x, labels
