#!/usr/bin/env bash
# Runs the pinned opa CLI (built on first use by install-opa.sh) with the given arguments.
set -euo pipefail
opa="$(bash "$(dirname "$0")/install-opa.sh" 2>/dev/null)" || { echo "opa.sh: could not install opa (run scripts/install-opa.sh to see why)" >&2; exit 1; }
exec "$opa" "$@"
