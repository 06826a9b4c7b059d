#!/usr/bin/env bash
# Installs what `make run` and `make test` need from the distribution when it
# is missing: PostgreSQL server binaries (postgres) and Chromium (chromium).
#
#   scripts/ensure-deps.sh postgres [chromium]
#
# Uses apt-get (Debian/Ubuntu), as root or through sudo. Does nothing for a
# component that is already installed.
set -euo pipefail

have_postgres() {
  [[ -n "${MF_PG_BIN:-}" && -x "${MF_PG_BIN}/initdb" ]] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  command -v initdb >/dev/null 2>&1
}
have_chromium() {
  [[ -n "${MF_CHROMIUM:-}" && -x "${MF_CHROMIUM}" ]] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1
}

missing=()
for want in "$@"; do
  case "$want" in
    postgres) have_postgres || missing+=(postgresql) ;;
    chromium) have_chromium || missing+=(chromium) ;;
    *) echo "ensure-deps: unknown component $want" >&2; exit 2 ;;
  esac
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing ${missing[*]}: install them with your distribution's package manager." >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "Missing ${missing[*]}: run 'apt-get install ${missing[*]}' as root." >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "Installing ${missing[*]} from the distribution…" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# The postgresql package starts a system-wide cluster on some systems; we
# never use it (ModelFactory runs its own), so skip starting services.
"${sudo[@]}" env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed ${missing[*]}." >&2
