#!/usr/bin/env bash
# The Python package's tests: builds `pip install ./python` into a virtual environment
# (target/pyenv, kept between runs) and runs pytest on python/tests. decord is installed too
# when PyPI has a wheel for this Python, so the decord comparisons run; they skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pyenv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check numpy pytest
"$venv/bin/python" -m pip install -q --disable-pip-version-check decord ||
  echo "[python] decord not installable here: its comparisons will be skipped"
"$venv/bin/python" -m pip install -q --disable-pip-version-check ./python
"$venv/bin/python" -m pytest -q python/tests
