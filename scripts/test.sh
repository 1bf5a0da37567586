#!/usr/bin/env bash
# Rustis test suite: formatting, lints, the layering rule, and all cargo tests.
# Installs redis-server/redis-tools (needed by the integration and
# differential tests) when they are missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

step "Redis tools"
redis_bins=(redis-server redis-cli redis-benchmark redis-check-rdb redis-check-aof)
missing=0
for b in "${redis_bins[@]}"; do
    command -v "$b" >/dev/null 2>&1 || missing=1
done
if [ "$missing" -eq 1 ]; then
    echo "installing redis-server and redis-tools"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools
    # The Debian package starts a redis-server on 6379; tests use their own
    # ports, but a stray server is noise. No service manager is fine.
    as_root service redis-server stop >/dev/null 2>&1 || true
    if [ -f /run/redis/redis-server.pid ]; then
        as_root kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
    fi
fi
for b in "${redis_bins[@]}"; do
    if ! command -v "$b" >/dev/null 2>&1; then
        echo "error: $b is still missing" >&2
        exit 1
    fi
done
redis-server --version
redis-cli --version
redis-benchmark --version 2>/dev/null || true

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "Layering check (DESIGN rule)"
layer_failures=0
# check_layer OWN "ALLOWED..." PATH...: every crate::X in PATH must have X in
# ALLOWED; grouped `crate::{` imports must be written out.
check_layer() {
    local own=$1 allowed=$2
    shift 2
    local paths=() p hit file line mod
    for p in "$@"; do
        [ -e "$p" ] && paths+=("$p")
    done
    [ "${#paths[@]}" -eq 0 ] && return 0
    while IFS= read -r hit; do
        [ -n "$hit" ] || continue
        file=${hit%%:*}
        line=${hit#*:}
        line=${line%%:*}
        mod=${hit##*crate::}
        if [ "$mod" = "{" ]; then
            echo "$file:$line: grouped 'use crate::{...}' in $own: write each path out"
            layer_failures=$((layer_failures + 1))
        elif [[ " $allowed " != *" $mod "* ]]; then
            echo "$file:$line: $own must not reference crate::$mod (allowed: $allowed)"
            layer_failures=$((layer_failures + 1))
        fi
    done < <(grep -rnoE --include='*.rs' 'crate::([A-Za-z_][A-Za-z0-9_]*|\{)' "${paths[@]}" || true)
}
check_layer config "config" src/config.rs src/config
check_layer protocol "protocol" src/protocol
check_layer store "store" src/store
check_layer metrics "metrics" src/metrics.rs src/metrics
check_layer commands "commands store protocol config metrics persistence" src/commands.rs src/commands
check_layer persistence "persistence store protocol config" src/persistence.rs src/persistence
check_layer client "client protocol" src/client
if [ "$layer_failures" -ne 0 ]; then
    echo "layering check failed: $layer_failures violation(s)" >&2
    exit 1
fi
echo "layering OK"

step "RUSTIS_REQUIRE_REDIS=1 cargo test --all-targets"
RUSTIS_REQUIRE_REDIS=1 cargo test --all-targets

if [ -f src/lib.rs ]; then
    step "cargo test --doc"
    RUSTIS_REQUIRE_REDIS=1 cargo test --doc
fi

printf '\n==> scripts/test.sh: all checks passed (fmt, clippy, layering, tests)\n'
