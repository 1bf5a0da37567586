#!/usr/bin/env bash
# Rustis fuzzing: runs the cargo-fuzz targets in tests/fuzz/ for a bounded time each.
# Not part of CI (scripts/test.sh); run it by hand after touching a parser or loader.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  fuzzing time per target, default 60 (the build comes on top:
#                       the first build takes several minutes, later ones seconds)
#   TARGET              any of the targets below; default: all four, one after another
#
# Targets (sources in tests/fuzz/fuzz_targets/, what each checks in its header):
#   resp_parser     RESP requests (multibulk and inline): protocol::parse_batch_at, split_args
#   msgpack_parser  MessagePack requests, the handshake, RESP3 -> MessagePack transcode
#   rdb_loader      RDB files (rdb::load_file) and DUMP payloads (load_payload, verify_payload)
#   config_parser   redis.conf text (Config::load_str / apply) and CONFIG REWRITE's output
# Besides "no panic", each checks real invariants: the parsers give the same commands,
# error and buffered tail whether the bytes come in one piece, three or one at a time,
# and re-encoded commands parse back identically; every loaded RDB value survives
# DUMP/RESTORE; a loaded config survives CONFIG REWRITE.
#
# Seeds: tests/fuzz/corpus/<target>/ (checked in, small valid inputs: RESP commands,
# MessagePack requests per the spec in src/protocol/msgpack.rs, a redis-server 7.0 RDB
# file and DUMP payloads, config lines). The inputs the fuzzer finds go to
# tests/fuzz/target/corpus/<target>/ (not checked in), so the seeds stay small and
# later runs start from where earlier ones got.
#
# Toolchain: cargo-fuzz needs nightly flags (-Zsanitizer, sancov passes); this machine has
# only stable Rust, so the script sets RUSTC_BOOTSTRAP=1. It installs cargo-fuzz
# (`cargo install cargo-fuzz --locked`) when missing.
# Sanitizer: AddressSanitizer by default (it works with stable's bundled runtime); set
# FUZZ_SANITIZER=none for ~2x faster runs (the code under test is safe Rust, so panics,
# overflow checks and debug assertions are what catch bugs; ASan only adds the few
# unsafe blocks and the C helper). Debug assertions and overflow checks are on.
# Everything runs under `nice`. Each run's log: tests/fuzz/target/logs/<target>.log.
#
# Output: per target, the runs executed, exec/s, coverage (cov = edges, ft = features)
# and whether it crashed. Exit status: 0 when no target crashed, 1 when one did, 2 on
# a usage or build error.
#
# A crash leaves its input in tests/fuzz/artifacts/<target>/crash-* (or timeout-*,
# oom-*). To reproduce and minimize:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run  --fuzz-dir tests/fuzz <target> <artifact>
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir tests/fuzz <target> <artifact>
# then add the minimized bytes as a regression test in tests/fuzz_regressions.rs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

ALL_TARGETS=(resp_parser msgpack_parser rdb_loader config_parser)
secs=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
    if [[ ! " ${ALL_TARGETS[*]} " =~ " $t " ]]; then
        echo "error: unknown target '$t' (one of: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done
sanitizer=${FUZZ_SANITIZER:-address}
fuzz_dir=tests/fuzz

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    nice cargo install cargo-fuzz --locked
fi

echo "==> building ${targets[*]} (sanitizer: $sanitizer)"
for t in "${targets[@]}"; do
    if ! nice cargo fuzz build --fuzz-dir "$fuzz_dir" -s "$sanitizer" "$t"; then
        echo "error: building $t failed" >&2
        exit 2
    fi
done

mkdir -p "$fuzz_dir/target/logs"
summary=()
crashed=0
for t in "${targets[@]}"; do
    work="$fuzz_dir/target/corpus/$t"
    mkdir -p "$work" "$fuzz_dir/artifacts/$t"
    log="$fuzz_dir/target/logs/$t.log"
    before=$(find "$fuzz_dir/artifacts/$t" -type f | wc -l)
    echo "==> fuzzing $t for ${secs}s (log: $log)"
    rc=0
    # The timeout bounds the run even if libFuzzer ignores max_total_time (a hang
    # inside one input is reported by -timeout as a timeout-* artifact first).
    timeout --signal=INT --kill-after=30 $((secs + 120)) \
        nice cargo fuzz run --fuzz-dir "$fuzz_dir" -s "$sanitizer" "$t" "$work" "$fuzz_dir/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[bKM]*' "$log" | tail -1 || true)
    after=$(find "$fuzz_dir/artifacts/$t" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
        crashed=1
        artifact=$(ls -t "$fuzz_dir/artifacts/$t" 2>/dev/null | head -1)
        result="CRASH (exit $rc) ${artifact:+$fuzz_dir/artifacts/$t/$artifact}"
        grep -m1 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" -A2 "$log" | sed 's/^/    /' || true
    else
        result="no crash"
    fi
    summary+=("$(printf '%-15s runs: %-10s exec/s: %-7s %-20s %-18s %s' "$t" "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}" "${corp:-}" "$result")")
done

echo
echo "==> summary (${secs}s per target, sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
