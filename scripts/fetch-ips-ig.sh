#!/usr/bin/env bash
# Unpacks the IPS implementation guide's package (hl7.fhir.uv.ips 2.0.0, CC0),
# which the $summary tests read (httpapi/summary_test.go, docs/IPS.md), under
# node_modules/hl7.fhir.uv.ips. Its FHIR-package dependencies (hl7.fhir.r4.core,
# …) are not on the npm registry, so `npm install` cannot resolve it: npm pack
# fetches the one tarball, checked here against its pinned SHA-512.
set -euo pipefail
cd "$(dirname "$0")/.."

name=hl7.fhir.uv.ips
version=2.0.0
sha512=e0f593a09f5bd45817b26f4322f1e253a1cef59e66ef98f19347b43173a684595fda6dac964fdde91a2249820284a265be6b49ec66d17edb7b3e9865c2665c6d
dir="node_modules/$name"

if [ -f "$dir/package/package.json" ] && grep -q "\"version\" *: *\"$version\"" "$dir/package/package.json"; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --loglevel=error "$name@$version" >/dev/null)
tgz="$tmp/$name-$version.tgz"
got=$(sha512sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$sha512" ]; then
  echo "$name@$version: SHA-512 $got, pinned $sha512" >&2
  exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
tar xzf "$tgz" -C "$dir"
