#!/usr/bin/env bash
# Fails when committed generated files are stale: templ output always, and
# the compiled contracts and their Go bindings when Node is present.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r views "$tmp/views"
find "$tmp/views" -name '*_templ.go' -delete
# Generate from the parent of views/, as `go tool templ generate` at the
# repository root does, so the file names inside the output match.
go tool templ generate -path "$tmp" >/dev/null 2>&1
stale=0
for f in "$tmp"/views/*_templ.go; do
  rel="views/$(basename "$f")"
  if ! cmp -s "$f" "$rel"; then
    echo "stale generated file: $rel (run 'make generate' and commit)" >&2
    stale=1
  fi
done
for f in views/*_templ.go; do
  [[ -e "$tmp/$f" ]] || { echo "orphan generated file: $f" >&2; stale=1; }
done
[[ $stale -eq 0 ]] || exit 1
echo "templ output is up to date"

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  bash chain/contracts/check.sh
else
  echo "Node not found: skipping the contract artifacts check"
fi
