#!/usr/bin/env bash
# Install everything the tests need and run them: Debian's Chromium for the web page's test (a browser
# download by Playwright cannot work offline), a virtual environment with knowrec and its dev extras, then
# ruff, the import contract and pytest. Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
export KNOWREC_DATA_DIR="${KNOWREC_DATA_DIR:-../shared/data}"
if ! command -v chromium >/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
python3.11 -m venv .venv
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/ruff check
.venv/bin/lint-imports  # each stage imports only the stages before it (the contract in pyproject.toml)
.venv/bin/python -m pytest "$@"
