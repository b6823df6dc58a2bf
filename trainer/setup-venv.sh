#!/usr/bin/env bash
# Creates the trainer's virtual environment from requirements.lock and points trainer/.venv at it.
#
# The environment lives outside the checkout, in a folder named after the hash of the lock file and
# the Python version, so a fresh clone (CI clones anew every run) finds the one built before and
# reuses it; it is rebuilt only when the lock file or the interpreter changes. PyPI's Linux torch
# wheels pull several GB of CUDA libraries, which is why a venv inside the checkout is not rebuilt
# each time.
#
#   bash trainer/setup-venv.sh          # create or reuse, then link trainer/.venv
#   PYTHON=/path/to/python3.11 ...      # interpreter to build it with (default: python3 on PATH)
#   IMPLICIT_PRM_VENV_CACHE=DIR ...     # where environments are kept (default: ~/.cache/implicit-prm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
cache=${IMPLICIT_PRM_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/implicit-prm}
lock="$here/requirements.lock"

key=$( { "$python" -c 'import sys, platform; print(sys.version, platform.machine())'; cat "$lock"; } | sha256sum | cut -c1-16)
venv="$cache/trainer-venv-$key"
link="$here/.venv"

mkdir -p "$cache"
# One build at a time: a second caller waits for the first and then reuses its result.
exec 9>"$cache/trainer-venv.lock"
flock 9

if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  echo "trainer venv: building $venv from $(basename "$lock")" >&2
  start=$(date +%s)
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-deps --no-cache-dir -r "$lock"
  "$venv/bin/python" -m pip check >&2
  echo "trainer venv: built in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
  touch "$venv/.complete"
else
  echo "trainer venv: reusing $venv" >&2
fi

if [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "trainer venv: $link exists and is not a link; remove it to use the locked environment" >&2
  exit 1
fi
ln -sfn "$venv" "$link"
