#!/usr/bin/env bash
# Creates (once) the peers' Python environment in .venv-peers and prints its python path.
# PyTorch's PyPI wheel pulls its CUDA libraries too (~5 GB): it imports them even on the CPU.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$repo/.venv-peers
req=$repo/benches/peers/requirements.txt
stamp=$venv/.requirements
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
  python3 -m venv "$venv" >&2
  PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/python"
