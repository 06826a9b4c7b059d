#!/bin/sh
# vendor.sh re-fetches the front-end libraries ModelFactory serves from
# static/vendor. They are committed so that `go build` needs no Node; run this
# (from anywhere) only to upgrade them, then commit the result.
#
# Stay on htmx 2.x: htmx 4 is a breaking rewrite.
set -eu

HTMX_VERSION=2.0.11
HTMX_SSE_VERSION=2.2.4
UPLOT_VERSION=1.6.32

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts \
	"htmx.org@$HTMX_VERSION" \
	"htmx-ext-sse@$HTMX_SSE_VERSION" \
	"uplot@$UPLOT_VERSION" >/dev/null

mkdir -p "$dest"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx.min.js"
cp node_modules/htmx-ext-sse/dist/sse.min.js "$dest/htmx-ext-sse.min.js"
cp node_modules/uplot/dist/uPlot.iife.min.js "$dest/uplot.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$dest/uplot.min.css"
cp node_modules/htmx.org/LICENSE "$dest/LICENSE.htmx"
cp node_modules/htmx-ext-sse/LICENSE "$dest/LICENSE.htmx-ext-sse"
cp node_modules/uplot/LICENSE "$dest/LICENSE.uplot"

cat >"$dest/VERSIONS" <<VERSIONS
htmx.org $HTMX_VERSION
htmx-ext-sse $HTMX_SSE_VERSION
uplot $UPLOT_VERSION
VERSIONS

echo "vendored htmx.org@$HTMX_VERSION htmx-ext-sse@$HTMX_SSE_VERSION uplot@$UPLOT_VERSION into $dest"
