#!/usr/bin/env bash
# Installs the pinned versitygw (an S3 server with Object Lock, Apache-2.0) into .tools/bin unless that
# exact version is already there or on PATH: the WORM archive tests run it on loopback. Built from
# source with the Go toolchain (no binary download, about 3 minutes), cached across runs in .tools/.
set -euo pipefail
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
want="${VERSITYGW_VERSION#v}"

# `go install` leaves `versitygw --version` saying "git" (the release sets it by -ldflags), so the
# version is read from the module information Go embeds in the binary. Captured first: `grep -q`
# closing the pipe early would fail the pipeline under pipefail.
has_version() {
  local out
  if command -v go >/dev/null; then
    out="$(go version -m "$1" 2>/dev/null)" || return 1
    grep -qE "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+v${want}[[:space:]]" <<<"$out"
  else
    out="$("$1" --version 2>/dev/null)" || return 1
    grep -q "${want}" <<<"$out"
  fi
}

if [ -x "$bin/versitygw" ] && has_version "$bin/versitygw"; then echo "$bin/versitygw"; exit 0; fi
if command -v versitygw >/dev/null && has_version "$(command -v versitygw)"; then
  mkdir -p "$bin"; ln -sf "$(command -v versitygw)" "$bin/versitygw"; echo "$bin/versitygw"; exit 0
fi
command -v go >/dev/null || { echo "install-versitygw: versitygw ${VERSITYGW_VERSION} not found and no Go toolchain to build it" >&2; exit 1; }
mkdir -p "$bin"
echo "install-versitygw: building versitygw ${VERSITYGW_VERSION} with go install (first run only, about 3 minutes)" >&2
GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" >&2
has_version "$bin/versitygw" || { echo "install-versitygw: built versitygw does not report ${want}" >&2; exit 1; }
echo "$bin/versitygw"
