#!/usr/bin/env bash
# Creates the trainer's virtual environment from requirements.lock and points trainer/.venv at it.
#
# The environment is built by scripts/locked-venv.sh: outside the checkout, in a folder named after
# the hash of the lock file and the Python version, so a fresh clone (CI clones anew every run)
# finds the one built before and reuses it; it is rebuilt only when the lock file or the
# interpreter changes. PyPI's Linux torch wheels pull several GB of CUDA libraries, which is why a
# venv inside the checkout is not rebuilt each time.
#
#   bash trainer/setup-venv.sh          # create or reuse, then link trainer/.venv
#   PYTHON=/path/to/python3.11 ...      # interpreter to build it with (default: python3 on PATH)
#   IMPLICIT_PRM_VENV_CACHE=DIR ...     # where environments are kept (default: ~/.cache/implicit-prm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
link="$here/.venv"

if [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "trainer venv: $link exists and is not a link; remove it to use the locked environment" >&2
  exit 1
fi
venv=$(bash "$here/../scripts/locked-venv.sh" trainer "$here/requirements.lock")
ln -sfn "$venv" "$link"
