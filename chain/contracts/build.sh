#!/usr/bin/env bash
# Compiles the Solidity contracts and regenerates their Go bindings.
#
#   bash chain/contracts/build.sh [OUT_ROOT]
#
# Writes chain/contracts/artifacts/<Name>.json (ABI + bytecode) and
# chain/bindings/<pkg>/<pkg>.go (abigen v2). With OUT_ROOT, writes the same
# tree under OUT_ROOT instead of the repository (used by check.sh).
# Needs Node (npm) and Go; the outputs are committed so that `go build`
# needs neither.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out_root="${1:-$repo}"
abigen_version="v1.17.10"

cd "$here"
if [[ ! -d node_modules/solc || ! -d node_modules/@openzeppelin/contracts ]] || ! npm ls --silent >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --silent
fi

artifacts="$out_root/chain/contracts/artifacts"
node compile.js "$artifacts"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# contract name -> Go package under chain/bindings
declare -A packages=(
  [OPEN]=open
  [RewardsDistributor]=rewards
  [ProvenanceRegistry]=provenance
  [TestWallet1271]=testwallet
  [ReferenceMerkleDistributor]=referencedistributor
  [BatchTransfer]=batchtransfer
)

for name in "${!packages[@]}"; do
  pkg="${packages[$name]}"
  node -e '
    const a = require(process.argv[1]);
    const fs = require("fs");
    fs.writeFileSync(process.argv[2], JSON.stringify(a.abi));
    fs.writeFileSync(process.argv[3], a.bytecode.replace(/^0x/, ""));
  ' "$artifacts/$name.json" "$tmp/$name.abi" "$tmp/$name.bin"
  mkdir -p "$out_root/chain/bindings/$pkg"
  (cd "$repo" && go run "github.com/ethereum/go-ethereum/cmd/abigen@$abigen_version" --v2 \
    --abi "$tmp/$name.abi" --bin "$tmp/$name.bin" \
    --pkg "$pkg" --type "$name" --out "$out_root/chain/bindings/$pkg/$pkg.go")
done
echo "bindings written to ${out_root}/chain/bindings"
