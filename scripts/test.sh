#!/usr/bin/env bash
# The whole test suite: what `npm test` runs and CI calls. Installs what the tests need first
# (the pinned opa CLI, the Unleash test server, PostgreSQL binaries, the deployment checkers), then runs
# every check.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "setting up the test environment"
bash scripts/setup-test-env.sh

step "type checking"
npx tsc -p tsconfig.json --noEmit

step "lint"
npx eslint .

step "policy tests (opa test)"
bash scripts/opa.sh test -v policies/ | tail -n 3

step "bundle freshness (bundles/ against policies/)"
node scripts/build-policies.mjs --check

step "deployment artefacts (helm lint/template, Kubernetes schemas, hadolint, promtool)"
bash scripts/check-deploy.sh all

step "unit, adversarial and end-to-end tests (vitest)"
npx vitest run "$@"
