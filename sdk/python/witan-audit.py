#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The same as `python3 -m witan` from anywhere: finds the package beside
this file. Usage: witan-audit.py verify --archive FILE [--genesis FILE]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from witan.__main__ import main  # noqa: E402

sys.exit(main())
