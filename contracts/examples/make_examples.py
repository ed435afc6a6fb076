#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the data and models of the public-health and finance example
contracts (contracts/examples/README.md). Seeded and synthetic: nothing here
is a real outbreak or a real market.

    /usr/bin/python3 contracts/examples/make_examples.py
    make && sh contracts/examples/make_bins.sh

writes contracts/examples/data/health-cases.csv (weekly cases of three
regions, each with one outbreak), contracts/examples/data/markets.csv
(daily market indicators through calm and stressed regimes), and beside
them the two models as ONNX with their training samples:

- health_next_week: linear regression of next week's cases on the last four
  weeks' (oldest first);
- finance_stress: logistic regression of "stressed" on volatility, credit
  spread and funding stress.

The graphs are written with onnx.helper by the same functions as the
inference fixtures (tests/fixtures/make_models.py).
"""
import datetime
import os
import sys

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
import make_models  # noqa: E402  (linear_regressor, linear_classifier)
import onnx  # noqa: E402

DATA = os.path.join(HERE, "data")
WEEKS = 104
REGIONS = [("north", 30), ("centre", 55), ("south", 80)]  # outbreak week


def health(rng):
    """Weekly cases: a noisy baseline, then 8 weeks of 35 % growth and a
    decline of 20 % a week."""
    start = datetime.date(2023, 1, 2)  # a Monday
    rows, X, y = [], [], []
    for region, onset in REGIONS:
        level, series = 20.0, []
        for w in range(WEEKS):
            if onset <= w < onset + 8:
                level *= 1.35
            elif w >= onset + 8:
                level = max(20.0, level * 0.8)
            series.append(int(rng.poisson(level)))
        for w, c in enumerate(series):
            day = start + datetime.timedelta(weeks=w)
            rows.append((region, day.isoformat(), c))
        for w in range(4, WEEKS):
            X.append(series[w - 4:w])
            y.append(series[w])
    with open(os.path.join(DATA, "health-cases.csv"), "w") as f:
        f.write("region,week,cases\n")
        for r in rows:
            f.write("%s,%s,%d\n" % r)
    X, y = np.array(X, dtype=float), np.array(y, dtype=float)
    lr = LinearRegression().fit(X, y)
    save("health_next_week", make_models.linear_regressor("health_next_week", lr, 4),
         X, ["cases_w1", "cases_w2", "cases_w3", "cases_w4"])


def finance(rng):
    """Daily indicators from a two-regime Markov chain: calm (stays calm
    with p 0.98) and stressed (stays with p 0.93)."""
    start = datetime.date(2024, 1, 1)
    stressed, rows, X, y = False, [], [], []
    for d in range(500):
        stay = 0.93 if stressed else 0.98
        if rng.random() > stay:
            stressed = not stressed
        vol = rng.normal(38, 8) if stressed else rng.normal(16, 4)
        spread = rng.normal(420, 60) if stressed else rng.normal(140, 30)
        funding = rng.normal(62, 10) if stressed else rng.normal(18, 7)
        vol, spread, funding = max(vol, 9.0), max(spread, 40.0), min(max(funding, 0.0), 100.0)
        day = start + datetime.timedelta(days=d)
        rows.append((day.isoformat(), round(vol, 2), round(spread, 1), round(funding, 1)))
        X.append([round(vol, 2), round(spread, 1), round(funding, 1)])
        y.append(1 if stressed else 0)
    with open(os.path.join(DATA, "markets.csv"), "w") as f:
        f.write("day,volatility,spread,funding\n")
        for r in rows:
            f.write("%s,%.2f,%.1f,%.1f\n" % r)
    X, y = np.array(X), np.array(y)
    lg = LogisticRegression(max_iter=1000).fit(X, y)
    save("finance_stress", make_models.linear_classifier("finance_stress", lg, 3),
         X, ["volatility", "spread", "funding"])


def save(name, model, X, names):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(DATA, name + ".onnx"))
    with open(os.path.join(DATA, name + ".samples.csv"), "w") as f:
        f.write(",".join(names) + "\n")
        for row in X:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def main():
    rng = np.random.default_rng(20261204)
    health(rng)
    finance(rng)


if __name__ == "__main__":
    main()
