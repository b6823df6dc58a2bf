#!/usr/bin/env bash
# Schema conformance: schemathesis sends generated requests, valid and invalid, to every operation
# of openapi/openapi.json on the service running as a process (the default model, on the CPU), and
# fails on any 5xx and on any response whose status, content type, headers or body the spec does
# not document. Settings, and the checks left out with why: schemathesis.toml beside this file.
#
# /admin/reload is not tested here: the spec documents a deployment without ADMIN_API_KEYS, where
# the route does not exist, so it is not in openapi/openapi.json (test/hardening/hot-reload.test.ts
# and auth.test.ts cover it).
#
#   bash scripts/schemathesis/run.sh            # exits non-zero on any failure
#   bash scripts/schemathesis/run.sh -n 20      # further schemathesis run options (fewer examples)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/schemathesis"
cd "$root"

venv=$(bash scripts/locked-venv.sh schemathesis "$here/requirements.lock")
work=$(mktemp -d)
server=""

# The server is stopped whatever happens: SIGTERM, and SIGKILL if it has not exited 10 s later.
stop_server() {
  [ -n "$server" ] || return 0
  kill -TERM "$server" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
runner=""
cleanup() {
  [ -z "$runner" ] || kill -TERM "$runner" 2>/dev/null || true
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
# A signal ends the script at once (`wait` below returns to run the trap), and so the cleanup runs.
trap 'exit 130' INT TERM

# A free port chosen by the server itself (PORT=0); the defaults otherwise, with no key and no
# rate limit whatever this shell has set, since the spec documents neither.
env HOST=127.0.0.1 PORT=0 PRM_DEVICE=cpu MODELS_DIR=models DEFAULT_MODEL=arith-tiny \
  API_KEYS= ADMIN_API_KEYS= RATE_LIMIT_PER_MINUTE=0 REDIS_URL= REDIS_CLUSTER_NODES= \
  LOG_LEVEL=info SHUTDOWN_DRAIN_MS=0 \
  node --import tsx src/server.ts >"$work/server.log" 2>&1 &
server=$!

# Its address from its log, then readiness: the model loaded.
url=$("$venv/bin/python" - "$server" "$work/server.log" <<'EOF'
import json, os, re, sys, time, urllib.request
pid, log = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 120
url = None
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("server exited before it was ready")
    if url is None:
        with open(log, encoding="utf-8", errors="replace") as f:
            m = re.search(r"serving .* at (http://127\.0\.0\.1:\d+)", f.read())
        url = m and m.group(1)
    if url is not None:
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=5) as r:
                if json.load(r).get("ready"):
                    print(url)
                    sys.exit(0)
        except OSError:
            pass
    time.sleep(0.2)
sys.exit("server not ready within 120 s")
EOF
) || { echo "schemathesis: the server did not start; its log:" >&2; tail -n 40 "$work/server.log" >&2; exit 1; }

echo "schemathesis: $(cd "$work" && "$venv/bin/schemathesis" --version) against $url" >&2
# Run from the scratch folder, so nothing is written into the checkout; bounded in time whatever
# the server does.
cd "$work"
timeout 600 "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
  run "$root/openapi/openapi.json" --url "$url" --no-color "$@" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
if [ "$status" -ne 0 ]; then
  echo "schemathesis: failed (exit $status)" >&2
  if ! kill -0 "$server" 2>/dev/null; then
    code=0
    wait "$server" || code=$?
    server=""
    echo "schemathesis: the server exited during the run (status $code); the end of its log:" >&2
    tail -n 30 "$work/server.log" | cut -c1-400 >&2
  else
    echo "schemathesis: the server's errors:" >&2
    grep -E '"level":(50|60)' "$work/server.log" | tail -n 20 | cut -c1-400 >&2 || true
  fi
fi
stop_server
exit "$status"
