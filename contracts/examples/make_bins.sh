#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Imports the example models (contracts/examples/make_examples.py) with the
# witan command into fixed-point .bin files. Run from the project root after
# `make`.
set -e
dir=contracts/examples/data
for name in health_next_week finance_stress; do
    build/bin/witan model import $dir/$name.onnx --out $dir/$name.bin \
        --samples $dir/$name.samples.csv
done
