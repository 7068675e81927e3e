#!/usr/bin/env bash
# Creates models/.venv with the pinned training dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import numpy, sklearn, onnx, onnxruntime" 2>/dev/null; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
echo "models/.venv ready: models/.venv/bin/python models/train.py"
