#!/usr/bin/env bash
# Builds a Python virtual environment from a lock file of exact versions and prints its folder.
#
# The environment lives outside the checkout, in a folder named after NAME and the hash of the lock
# file and the Python version, so a fresh clone (CI clones anew every run) finds the one built
# before and reuses it; it is rebuilt only when the lock file or the interpreter changes. The lock
# lists every package, so it is installed with --no-deps: what runs is exactly what is pinned.
# trainer/setup-venv.sh builds the trainer's environment with it.
#
#   bash scripts/locked-venv.sh NAME LOCK_FILE   # create or reuse; the folder on stdout
#   PYTHON=/path/to/python3.11 ...               # interpreter to build it with (default: python3 on PATH)
#   IMPLICIT_PRM_VENV_CACHE=DIR ...              # where environments are kept (default: ~/.cache/implicit-prm)
set -euo pipefail
if [ $# -ne 2 ] || [ ! -f "$2" ]; then
  echo "usage: $0 NAME LOCK_FILE (an existing requirements lock)" >&2
  exit 2
fi
name=$1
lock=$2
python=${PYTHON:-python3}
cache=${IMPLICIT_PRM_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/implicit-prm}

key=$( { "$python" -c 'import sys, platform; print(sys.version, platform.machine())'; cat "$lock"; } | sha256sum | cut -c1-16)
venv="$cache/$name-venv-$key"

mkdir -p "$cache"
# One build at a time: a second caller waits for the first and then reuses its result.
exec 9>"$cache/$name-venv.lock"
flock 9

if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  echo "$name venv: building $venv from $lock" >&2
  start=$(date +%s)
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-deps --no-cache-dir -r "$lock" >&2
  "$venv/bin/python" -m pip check >&2
  echo "$name venv: built in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
  touch "$venv/.complete"
else
  echo "$name venv: reusing $venv" >&2
fi
echo "$venv"
