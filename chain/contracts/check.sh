#!/usr/bin/env bash
# Fails when the committed contract artifacts or Go bindings differ from a
# fresh build of the Solidity sources. Run by CI when Node is present.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

bash "$here/build.sh" "$tmp"

status=0
for dir in chain/contracts/artifacts chain/bindings; do
  if ! diff -r "$repo/$dir" "$tmp/$dir"; then
    status=1
  fi
done
if [[ $status -ne 0 ]]; then
  echo "committed contract artifacts or bindings are stale: run 'make contracts' and commit the result" >&2
  exit 1
fi
echo "contract artifacts and bindings are up to date"
