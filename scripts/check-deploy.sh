#!/usr/bin/env bash
# Checks the deployment artefacts; every step exits non-zero on a finding.
#   check-deploy.sh [all]               every step below
#   check-deploy.sh chart               helm lint, helm template of each deploy/helm/flaggate/ci/*-values.yaml,
#                                       every rendered manifest validated against the Kubernetes schemas,
#                                       and deploy/kubernetes/<name>.yaml equal to its rendering
#   check-deploy.sh validate FILE...    Kubernetes schema validation of manifest files (strict)
#   check-deploy.sh dockerfile [FILE]   hadolint, warnings fail
#   check-deploy.sh rules [RULES TESTS] promtool check rules, then promtool test rules
#   check-deploy.sh dashboard [FILE]    every dashboard expression parsed by promtool
#   check-deploy.sh render              rewrite deploy/kubernetes/*.yaml from the chart
# Tools come from scripts/install-deploy-tools.sh (run by scripts/setup-test-env.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
helm="$root/.tools/bin/helm"
venv="$root/.tools/venv/bin"
chart="${FLAGGATE_CHART:-$root/deploy/helm/flaggate}"
say() { echo "check-deploy: $*" >&2; }
need() { [ -x "$1" ] || command -v "$1" >/dev/null || { say "$1 missing: run scripts/setup-test-env.sh"; exit 2; }; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Validated against the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS="${KUBE_VERSIONS:-1.27.0 1.37.0}"
# The cluster version helm renders for (a fixed one, so the committed renderings do not depend on the helm build).
RENDER_KUBE_VERSION="${RENDER_KUBE_VERSION:-1.34.0}"

render() { # values-file -> stdout
  "$helm" template flaggate "$chart" --namespace flaggate --kube-version "$RENDER_KUBE_VERSION" -f "$1"
}

validate() {
  need "$venv/kubernetes-validate"
  local v out rc
  for v in $KUBE_VERSIONS; do
    rc=0; out="$("$venv/kubernetes-validate" --strict --quiet -k "$v" "$@" 2>&1)" || rc=$?
    grep -v "api version monitoring.coreos.com/" <<<"$out" | grep -v '^$' >&2 || true
    [ "$rc" = 0 ] || { say "manifests fail the Kubernetes $v schemas"; return 1; }
    # A kind without a schema only warns: that passes for the Prometheus operator's CRDs (their
    # content is checked by test/deploy), and fails for anything else (a misspelt kind or apiVersion).
    if grep "Couldn't find schema" <<<"$out" | grep -qv "api version monitoring.coreos.com/"; then
      say "a manifest names a kind or apiVersion Kubernetes $v does not have"; return 1
    fi
  done
}

check_chart() {
  need "$helm"
  local values name out failed=0
  for values in "$chart"/ci/*-values.yaml; do
    name="$(basename "$values" -values.yaml)"
    say "helm lint ($name)"
    "$helm" lint --strict --quiet "$chart" -f "$values" >&2 || { say "helm lint failed for $name"; failed=1; continue; }
    out="$tmp/$name"; mkdir -p "$out"
    render "$values" >"$out/rendered.yaml" || { say "helm template failed for $name"; failed=1; continue; }
    say "kubernetes-validate ($name: $(grep -c '^kind: ' "$out/rendered.yaml") manifests)"
    validate "$out/rendered.yaml" || failed=1
    if [ -z "${FLAGGATE_CHART:-}" ]; then
      cmp -s "$out/rendered.yaml" "$root/deploy/kubernetes/$name.yaml" \
        || { say "deploy/kubernetes/$name.yaml differs from the chart's rendering: run scripts/check-deploy.sh render"; failed=1; }
    fi
  done
  return "$failed"
}

render_all() {
  need "$helm"
  local values name
  for values in "$chart"/ci/*-values.yaml; do
    name="$(basename "$values" -values.yaml)"
    render "$values" >"$root/deploy/kubernetes/$name.yaml"
    say "wrote deploy/kubernetes/$name.yaml"
  done
}

check_dockerfile() {
  need "$venv/hadolint"
  local file="${1:-$root/Dockerfile}"
  say "hadolint $(basename "$file")"
  "$venv/hadolint" --no-color --failure-threshold warning "$file" >&2 || { say "hadolint found warnings in $file"; return 1; }
}

check_rules() {
  need promtool
  local rules="${1:-$root/docs/prometheus/flaggate-alerts.yml}" tests="${2:-$root/docs/prometheus/flaggate-alerts.test.yml}"
  say "promtool check rules, test rules"
  promtool check rules "$rules" >&2 || { say "promtool check rules failed for $rules"; return 1; }
  # promtool reads rule_files relative to the test file: run it on a copy beside the rules.
  cp "$rules" "$tmp/flaggate-alerts.yml"; cp "$tests" "$tmp/flaggate-alerts.test.yml"
  (cd "$tmp" && promtool test rules flaggate-alerts.test.yml) >&2 || { say "promtool test rules failed"; return 1; }
}

check_dashboard() {
  need promtool
  local dashboard="${1:-$root/docs/grafana/flaggate-dashboard.json}"
  say "dashboard expressions through promtool"
  # Each panel query becomes a recording rule, so promtool parses it as PromQL.
  node "$root/scripts/dashboard-rules.mjs" "$dashboard" >"$tmp/dashboard-rules.yml"
  promtool check rules "$tmp/dashboard-rules.yml" >&2 || { say "a dashboard expression is not valid PromQL"; return 1; }
}

step="${1:-all}"; shift || true
case "$step" in
  all) rc=0; check_chart || rc=1; check_dockerfile || rc=1; check_rules || rc=1; check_dashboard || rc=1; exit "$rc" ;;
  chart) check_chart ;;
  validate) validate "$@" ;;
  dockerfile) check_dockerfile "$@" ;;
  rules) check_rules "$@" ;;
  dashboard) check_dashboard "$@" ;;
  render) render_all ;;
  *) say "unknown step $step"; exit 2 ;;
esac
