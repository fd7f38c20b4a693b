#!/usr/bin/env bash
# Brings a fresh Debian machine with only Node 20 + npm to a state where the
# project runs: the pinned pnpm, the workspace's dependencies (better-sqlite3
# compiles from source here, about a minute the first time), Debian's coturn,
# nftables and python3 for the network-namespace tests (packages/netlab),
# Debian's nats-server (the clustered ledger's tests start their own NATS
# servers) and, unless --no-browser is given, Debian's Chromium for the
# browser tests.
# Idempotent: a second run only checks and returns in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="10.34.9"
want_browser=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) want_browser=0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION with npm" >&2
  if ! npm install -g "pnpm@$PNPM_VERSION" >&2; then
    echo "setup: could not install pnpm globally; run: npm install -g pnpm@$PNPM_VERSION" >&2
    exit 1
  fi
fi

if [ "${CI:-}" = "true" ] || [ ! -d node_modules/.pnpm ]; then
  pnpm install --frozen-lockfile >&2
else
  pnpm install --frozen-lockfile --prefer-offline >&2
fi

# The NAT tests (packages/netlab) build hosts in network namespaces: they need
# root, nft (nftables), turnserver (coturn) and python3 (the delay forwarder).
# As root, install what is missing; otherwise those tests skip and say why.
missing_net_pkgs=()
command -v nft >/dev/null 2>&1 || missing_net_pkgs+=(nftables)
command -v turnserver >/dev/null 2>&1 || missing_net_pkgs+=(coturn)
command -v python3 >/dev/null 2>&1 || missing_net_pkgs+=(python3-minimal)
if [ "${#missing_net_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's ${missing_net_pkgs[*]} for the network-namespace tests" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_net_pkgs[@]}" >&2
    # Debian's package enables a system coturn service; the tests start their own.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now coturn >/dev/null 2>&1 || true; fi
  else
    echo "setup: the NAT tests need ${missing_net_pkgs[*]} and root; they will skip (as root: apt-get install -y ${missing_net_pkgs[*]})" >&2
  fi
fi

if [ "$want_browser" = 1 ]; then
  chromium_path="${PEERBENCH_CHROMIUM:-}"
  if [ -z "$chromium_path" ]; then
    chromium_path="$(command -v chromium || command -v chromium-browser || true)"
  fi
  if [ -z "$chromium_path" ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing Debian's chromium for the browser tests" >&2
      apt-get update >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
    else
      echo "setup: the browser tests need Chromium. Run as root: apt-get update && apt-get install -y chromium" >&2
      echo "       (or set PEERBENCH_CHROMIUM to a Chromium binary)" >&2
      exit 1
    fi
  fi
fi

# The clustered ledger (packages/ledger, `@peerbench/ledger/nats`) is tested
# against real NATS servers that the tests start themselves.
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ] && [ -z "${NATS_SERVER_BIN:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's nats-server for the clustered-ledger tests" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server >&2
  else
    echo "setup: the clustered-ledger tests need nats-server. Run as root: apt-get update && apt-get install -y nats-server" >&2
    echo "       (or set NATS_SERVER_BIN to a nats-server 2.9+ binary)" >&2
    exit 1
  fi
fi
