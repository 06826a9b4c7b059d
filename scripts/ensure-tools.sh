#!/usr/bin/env bash
# Builds the Go tools the tests run as real servers, once per machine, into
# the same cache the test harnesses look in (blob/s3test): versitygw, a real
# S3-compatible server. Building it inside `go test` would eat into the
# per-package timeout on a cold machine.
set -euo pipefail
version=v1.8.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/modelfactory-tools/versitygw-$version"
if [[ -n "${MF_VERSITYGW:-}" && -x "$MF_VERSITYGW" ]] || [[ -x "$cache/versitygw" ]]; then
  exit 0
fi
echo "Building versitygw $version for the S3 tests (once per machine)…" >&2
mkdir -p "$cache"
GOBIN="$cache" go install "github.com/versity/versitygw/cmd/versitygw@$version"
