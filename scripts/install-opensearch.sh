#!/usr/bin/env bash
# Installs the pinned OpenSearch (Apache-2.0) into .tools/opensearch-<version> unless it is already there:
# the SIEM sink's tests run it on loopback. The minimal distribution (integ-test-zip: no security
# plugin, no bundled JDK) comes from Maven Central through Maven's own resolver, so a mirror set in
# ~/.m2/settings.xml is honoured; it runs on the machine's JDK (17+). Prints the install directory.
set -euo pipefail
OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-2.19.6}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
home="$tools/opensearch-$OPENSEARCH_VERSION"
zip="$tools/cache/opensearch-$OPENSEARCH_VERSION.zip"

if [ -x "$home/bin/opensearch" ]; then echo "$home"; exit 0; fi
command -v java >/dev/null || { echo "install-opensearch: no java on PATH (OpenSearch $OPENSEARCH_VERSION needs a JDK 11+)" >&2; exit 1; }
mkdir -p "$tools/cache"
if [ ! -s "$zip" ]; then
  command -v mvn >/dev/null || { echo "install-opensearch: mvn not found: it fetches the distribution from Maven Central" >&2; exit 1; }
  echo "install-opensearch: fetching org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && mvn -q -B dependency:copy \
    "-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" \
    -DoutputDirectory="$tmp/out" >&2)
  mv "$tmp/out/opensearch-$OPENSEARCH_VERSION.zip" "$zip"
fi
# Unpacked beside, then moved into place: an interrupted run never leaves a half tree that looks installed.
staging="$(mktemp -d "$tools/opensearch-unpack.XXXXXX")"
(cd "$staging" && unzip -q "$zip")
[ -x "$staging/opensearch-$OPENSEARCH_VERSION/bin/opensearch" ] || { echo "install-opensearch: $zip has no opensearch-$OPENSEARCH_VERSION/bin/opensearch" >&2; exit 1; }
mv "$staging/opensearch-$OPENSEARCH_VERSION" "$home"
rmdir "$staging"
echo "$home"
