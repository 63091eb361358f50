#!/usr/bin/env bash
# Installs the pinned opa CLI into .tools/bin unless that exact version is already there or on PATH.
# Built from source with the Go toolchain (no binary download), cached across runs in .tools/.
set -euo pipefail
OPA_VERSION="${OPA_VERSION:-v1.22.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
want="${OPA_VERSION#v}"

# Capture first: `grep -q` closing the pipe early would SIGPIPE opa and fail under pipefail.
has_version() { local out; out="$("$1" version 2>/dev/null)" || return 1; grep -q "^Version: ${want}$" <<<"$out"; }

if [ -x "$bin/opa" ] && has_version "$bin/opa"; then echo "$bin/opa"; exit 0; fi
if command -v opa >/dev/null && has_version "$(command -v opa)"; then
  mkdir -p "$bin"; ln -sf "$(command -v opa)" "$bin/opa"; echo "$bin/opa"; exit 0
fi
command -v go >/dev/null || { echo "install-opa: opa ${OPA_VERSION} not found and no Go toolchain to build it" >&2; exit 1; }
mkdir -p "$bin"
echo "install-opa: building opa ${OPA_VERSION} with go install (first run only)" >&2
GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/open-policy-agent/opa@${OPA_VERSION}" >&2
has_version "$bin/opa" || { echo "install-opa: built opa does not report ${want}" >&2; exit 1; }
echo "$bin/opa"
