#!/usr/bin/env bash
# Side-by-side benchmark of rustis-server and redis-server with redis-benchmark.
# Never part of the tests. See usage() below.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench.sh [options]
  -n REQUESTS       requests per redis-benchmark run        (default 200000)
  -r ROUNDS         rounds per cell; the median is reported (default 3)
  -c CLIENTS        parallel connections                    (default 50)
  -t TESTS          comma-separated redis-benchmark tests   (default set,get,incr,mset);
                    also lpush,rpop,lrange_100,sadd,hset,zadd, and zrangebyscore (custom:
                    ZRANGEBYSCORE myzset 100 200 LIMIT 0 10 on 1,000 members)
  --pipelines "..." pipeline depths (-P)                    (default "1 16")
  --workers N       pass --workers N to rustis-server
  --out FILE        also write the Markdown report to FILE
  --memory          instead: load 1,000,000 keys (32-byte values) into each
                    server and compare RSS; then, on fresh servers, 1,000,000
                    small stream entries (XADD s * f v) in one key
  --bgsave          instead: load 1,000,000 keys, then run redis-benchmark (set,get,
                    -n REQUESTS -c CLIENTS -r 1000000) once without saving and once
                    while BGSAVEs run back to back; reports p99 with/without, RSS
                    growth during the saves (Redis: its rdb_last_cow_size), save time
  --aof             instead: SET throughput and p99 with appendonly yes, for
                    appendfsync always, everysec and no (redis-benchmark -t set -c CLIENTS
                    -n REQUESTS), -r rounds, medians; files in a temp dir
  --pubsub          instead: pub/sub delivery (1 channel x 100 subscribers, 1,000
                    channels x 1 subscriber; benches/pubsub.rs), messages/s, -r rounds
  --metrics         instead: rustis with metrics on (endpoint scraped every second,
                    latency-tracking yes) vs off (metrics-port 0, latency-tracking no),
                    redis-benchmark -t set,get -P 1 and 16, -r rounds alternating, medians
  --scripts         instead: EVALSHA of an INCR script on redis-server, Rustis
                    (scripts in parallel) and Rustis with --script-parallel no: random
                    declared keys, one hot declared key, random undeclared keys, and
                    random declared keys while another client keeps running a script
                    that spins for 1 ms on its own key; -P 1 and 16, -r rounds
                    alternating, medians (use --workers 2 or more to see parallelism)
  --self-test       use redis-server on both sides (checks this script)
Env: BENCH_RUSTIS_BIN=path  use this binary instead of building rustis-server;
     BENCH_TIMEOUT=seconds  limit for each redis-benchmark run (default 300).
EOF
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

requests=200000 rounds=3 clients=50 tests="set,get,incr,mset" pipelines="1 16"
workers="" out="" memory=0 pubsub=0 bgsave=0 aof=0 metrics=0 scripts=0 extra_args=() keyspace=100000 bench_timeout=${BENCH_TIMEOUT:-300}
rustis_bin=${BENCH_RUSTIS_BIN:-}
while [ $# -gt 0 ]; do
    case $1 in
        -n) requests=$2; shift 2 ;;
        -r) rounds=$2; shift 2 ;;
        -c) clients=$2; shift 2 ;;
        -t) tests=$2; shift 2 ;;
        --pipelines) pipelines=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --memory) memory=1; shift ;;
        --pubsub) pubsub=1; shift ;;
        --bgsave) bgsave=1; shift ;;
        --aof) aof=1; shift ;;
        --metrics) metrics=1; shift ;;
        --scripts) scripts=1; shift ;;
        --self-test) rustis_bin=$(command -v redis-server); shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

for b in redis-server redis-cli redis-benchmark timeout; do
    command -v "$b" >/dev/null || { echo "error: $b not found (run scripts/test.sh once to install it)" >&2; exit 1; }
done
if [ -z "$rustis_bin" ]; then
    echo "==> cargo build --release" >&2
    cargo build --release >&2
    rustis_bin=target/release/rustis-server
fi
note=""
[ "$(basename "$rustis_bin")" = redis-server ] && note=" (SELF-TEST: the 'rustis' column is redis-server too)"

tmp=$(mktemp -d)
declare -A pid port sargs
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$? s
    for s in "${!pid[@]}"; do
        kill "${pid[$s]}" 2>/dev/null || true
        wait "${pid[$s]}" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        for s in "$tmp"/*.log; do [ -f "$s" ] && { echo "--- $s" >&2; tail -n 20 "$s" >&2; }; done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM + i) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo "error: no free port found" >&2; return 1
}

cli() { timeout 60 redis-cli -h 127.0.0.1 -p "${port[$1]}" "${@:2}"; }

start_server() { # start_server redis|rustis: retried on a new port if the port was taken
    local attempt
    for attempt in 1 2 3; do
        start_server_once "$1" && return 0
        grep -q "already in use" "$tmp/$1.log" 2>/dev/null || return 1
        echo "  port ${port[$1]} was taken; retrying ($attempt)" >&2
        unset "pid[$1]"
    done
    return 1
}

start_server_once() {
    local s=$1 bin
    [ -n "${pid[$s]:-}" ] && stop_server "$s"
    port[$s]=$(free_port)
    if [ "$s" = redis ]; then bin=redis-server; else bin=$rustis_bin; fi
    if [ "$(basename "$bin")" = redis-server ]; then
        "$bin" --port "${port[$s]}" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
            --dir "$tmp" --dbfilename "$s.rdb" --appenddirname "aof-$s" "${extra_args[@]}" </dev/null >"$tmp/$s.log" 2>&1 &
    else
        "$bin" --port "${port[$s]}" --bind 127.0.0.1 --save "" --dir "$tmp" --dbfilename "$s.rdb" \
            --appenddirname "aof-$s" ${workers:+--workers "$workers"} "${extra_args[@]}" ${sargs[$s]:-} \
            </dev/null >"$tmp/$s.log" 2>&1 &
    fi
    pid[$s]=$!
    local i
    for i in $(seq 1 100); do
        [ "$(cli "$s" ping 2>/dev/null)" = PONG ] && return 0
        kill -0 "${pid[$s]}" 2>/dev/null || { echo "error: $s exited at startup" >&2; return 1; }
        sleep 0.1
    done
    echo "error: $s did not answer PING on port ${port[$s]} within 10 s (iteration $i)" >&2
    return 1
}

stop_server() {
    kill "${pid[$1]}" 2>/dev/null || true
    wait "${pid[$1]}" 2>/dev/null || true
    unset "pid[$1]"
}

# RESP for SET KEY VALUE, keys sprintf(fmt, 0..count-1), values of `size` bytes.
gen_sets() { # gen_sets count keyfmt size
    awk -v n="$1" -v fmt="$2" -v size="$3" 'BEGIN {
        pad = sprintf("%0" size "d", 0); gsub(/0/, "x", pad)
        for (i = 0; i < n; i++) {
            k = sprintf(fmt, i); v = substr(sprintf("%d", i) pad, 1, size)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, size, v
        }
    }'
}

load() { # load server count keyfmt size
    gen_sets "$2" "$3" "$4" | timeout "$bench_timeout" redis-cli -h 127.0.0.1 -p "${port[$1]}" --pipe >"$tmp/pipe.log" 2>&1 \
        || { cat "$tmp/pipe.log" >&2; echo "error: loading $1 failed" >&2; return 1; }
}

load_cmds() { # load_cmds server: RESP commands on stdin through redis-cli --pipe
    timeout "$bench_timeout" redis-cli -h 127.0.0.1 -p "${port[$1]}" --pipe >"$tmp/pipe.log" 2>&1 \
        || { cat "$tmp/pipe.log" >&2; echo "error: loading $1 failed" >&2; return 1; }
}

# Preloads so pops and range reads hit: mylist gets enough elements for every RPOP of all
# rounds; myzset gets 1,000 members scored 0..999.
load_list() { # load_list server elements
    awk -v n="$2" 'BEGIN { for (i = 0; i < n; i += 100) { m = (n - i < 100) ? n - i : 100;
        printf "*%d\r\n$5\r\nRPUSH\r\n$6\r\nmylist\r\n", m + 2;
        for (j = 0; j < m; j++) { v = sprintf("%d", i + j); printf "$%d\r\n%s\r\n", length(v), v } } }' | load_cmds "$1"
}
load_zset() { # load_zset server members
    awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) { v = sprintf("m%d", i); s = sprintf("%d", i);
        printf "*4\r\n$4\r\nZADD\r\n$6\r\nmyzset\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(s), s, length(v), v } }' | load_cmds "$1"
}

# The redis-benchmark arguments for a test: built-in -t tests, or a custom command.
test_args() {
    case "$1" in
        zrangebyscore) echo "ZRANGEBYSCORE myzset 100 200 LIMIT 0 10" ;;
        *) echo "-t $1" ;;
    esac
}

cpu_ticks() { # utime+stime of the whole process (fields 14, 15 of /proc/PID/stat)
    local rest
    rest=$(<"/proc/$1/stat")
    rest=${rest##*) }   # drop "pid (comm) ", comm may contain spaces
    awk '{ print $12 + $13 }' <<<"$rest"
}

hz=$(getconf CLK_TCK)
report="$tmp/report.md"
header() {
    {
        echo "# rustis vs redis: $1$note"
        echo
        echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc: $(nproc), CPU: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "- redis: $(redis-server --version | awk '{ print $3 }'), rustis: $rustis_bin${workers:+ --workers $workers}"
    } >"$report"
}

info_field() { # info_field server field
    cli "$1" info persistence | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
median_of() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
rps_of() { # rps_of server depth redis-benchmark-args...: requests per second of one run
    timeout "$bench_timeout" redis-benchmark -h 127.0.0.1 -p "${port[$1]}" -c "$clients" -n "$requests" \
        -r "$keyspace" -P "$2" --csv "${@:3}" 2>/dev/null | grep -v '^"test"' | tail -n 1 | awk -F'","' '{ print $2 }'
}

if [ "$aof" -eq 1 ]; then
    header "AOF write throughput"
    {
        echo "- redis-benchmark -c $clients -n $requests -r 100000 -t set --csv; appendonly yes; median of $rounds rounds, servers alternating, fresh AOF each run"
        echo "- disk: $(df -h "$tmp" | awk 'NR == 2 { print $1 " (" $2 ")" }'); fsync cost depends entirely on it"
    } >>"$report"
    declare -A res
    for policy in always everysec no; do
        for r in $(seq 1 "$rounds"); do
            for s in redis rustis; do
                rm -rf "$tmp/aof-$s"
                extra_args=(--appendonly yes --appendfsync "$policy")
                start_server "$s"
                line=$(timeout "$bench_timeout" redis-benchmark -h 127.0.0.1 -p "${port[$s]}" -c "$clients" \
                    -n "$requests" -r 100000 -t set --csv 2>/dev/null | grep -v '^"test"' | tail -n 1)
                rps=$(awk -F'","' '{ print $2 }' <<<"$line")
                p99=$(awk -F'","' '{ print $7 }' <<<"$line")
                res[$s,$policy]="${res[$s,$policy]:-} $rps:$p99"
                echo "  $s $policy round $r: $rps rps, p99 $p99 ms" >&2
                stop_server "$s"
            done
        done
    done
    extra_args=()
    med() { tr ' ' '\n' | grep -v '^$' | sort -t: -k1 -n | awk -F: '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
    {
        echo
        echo "| appendfsync | redis rps | rustis rps | ratio | redis p99 ms | rustis p99 ms |"
        echo "|---|---:|---:|---:|---:|---:|"
        for policy in always everysec no; do
            a=$(echo "${res[redis,$policy]}" | med)
            b=$(echo "${res[rustis,$policy]}" | med)
            awk -v p="$policy" -v a="$a" -v b="$b" 'BEGIN { split(a, x, ":"); split(b, y, ":");
                printf "| %s | %.0f | %.0f | %.2f | %s | %s |\n", p, x[1], y[1], (x[1] > 0 ? y[1] / x[1] : 0), x[2], y[2] }'
        done
    } >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

if [ "$bgsave" -eq 1 ]; then
    header "BGSAVE under load"
    {
        echo "- load: 1,000,000 x SET key:0000000..key:0999999 with 32-byte values via redis-cli --pipe"
        echo "- load test: redis-benchmark -c $clients -n $requests -r 1000000 -t set,get --csv (SET overwrites existing keys)"
        echo "- 'saving' rows: BGSAVE issued back to back for the whole redis-benchmark run"
        echo "- note: the benchmark client, the server and (for Redis) the fork child share $(nproc) cores"
    } >>"$report"
    declare -A res
    for s in redis rustis; do
        start_server "$s"
        echo "==> loading 1,000,000 keys into $s" >&2
        load "$s" 1000000 "key:%07d" 32
        sleep 1
        # One save first: its time, and the steady-state RSS after it.
        t0=$(now_ms)
        [ "$(cli "$s" bgsave)" = "Background saving started" ] || { echo "error: BGSAVE refused by $s" >&2; exit 1; }
        while [ "$(info_field "$s" rdb_bgsave_in_progress)" != 0 ]; do sleep 0.01; done
        res[$s,save_ms]=$(($(now_ms) - t0))
        res[$s,dump]=$(stat -c %s "$tmp/$s.rdb")
        sleep 1
        res[$s,rss0]=$(rss_kb "${pid[$s]}")
        for mode in idle saving; do
            timeout "$bench_timeout" redis-benchmark -h 127.0.0.1 -p "${port[$s]}" -c "$clients" -n "$requests" \
                -r 1000000 -t set,get --csv >"$tmp/bench.csv" 2>"$tmp/bench.err" &
            bpid=$!
            peak=${res[$s,rss0]} saves=0 cow=0
            while kill -0 "$bpid" 2>/dev/null; do
                if [ "$mode" = saving ] && [ "$(info_field "$s" rdb_bgsave_in_progress)" = 0 ]; then
                    [ "$(cli "$s" bgsave)" = "Background saving started" ] && saves=$((saves + 1))
                    c=$(info_field "$s" rdb_last_cow_size); [ "${c:-0}" -gt "$cow" ] && cow=$c
                fi
                r=$(rss_kb "${pid[$s]}"); [ "$r" -gt "$peak" ] && peak=$r
                sleep 0.02
            done
            wait "$bpid" || { cat "$tmp/bench.err" >&2; echo "error: redis-benchmark failed on $s" >&2; exit 1; }
            while [ "$(info_field "$s" rdb_bgsave_in_progress)" != 0 ]; do sleep 0.01; done
            c=$(info_field "$s" rdb_last_cow_size); [ "${c:-0}" -gt "$cow" ] && cow=$c
            for t in SET GET; do
                res[$s,$mode,$t]=$(awk -F'","' -v t="$t" '$1 == "\"" t { print $2 " " $7 }' "$tmp/bench.csv")
            done
            res[$s,$mode,peak]=$peak res[$s,$mode,saves]=$saves res[$s,$mode,cow]=$cow
            echo "  $s $mode: SET ${res[$s,$mode,SET]} GET ${res[$s,$mode,GET]} (rps p99ms), peak RSS ${peak} kB, saves $saves" >&2
        done
        stop_server "$s"
    done
    {
        echo
        echo "| server | 1M-key BGSAVE ms | dump MB | test | rps idle | rps saving | p99 idle ms | p99 saving ms | p99 ratio |"
        echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
        for s in redis rustis; do
            for t in SET GET; do
                read -r ri pi <<<"${res[$s,idle,$t]}"
                read -r rs ps <<<"${res[$s,saving,$t]}"
                awk -v s="$s" -v ms="${res[$s,save_ms]}" -v d="${res[$s,dump]}" -v t="$t" -v ri="$ri" -v rs="$rs" -v pi="$pi" -v ps="$ps" \
                    'BEGIN { printf "| %s | %d | %.1f | %s | %.0f | %.0f | %.3f | %.3f | %.2f |\n", s, ms, d / 1048576, t, ri, rs, pi, ps, (pi > 0 ? ps / pi : 0) }'
            done
        done
        echo
        echo "| server | RSS before MB | peak RSS idle MB | peak RSS saving MB | growth while saving | saves during run | Redis fork COW (rdb_last_cow_size, max) MB |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for s in redis rustis; do
            awk -v s="$s" -v a="${res[$s,rss0]}" -v b="${res[$s,idle,peak]}" -v c="${res[$s,saving,peak]}" -v n="${res[$s,saving,saves]}" -v cow="${res[$s,saving,cow]}" \
                'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %.1f%% | %d | %s |\n", s, a / 1024, b / 1024, c / 1024, (c - a) * 100 / a, n, (s == "redis" ? sprintf("%.1f", cow / 1048576) : "n/a (no fork)") }'
        done
    } >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

if [ "$pubsub" -eq 1 ]; then
    header "pubsub"
    echo "- benches/pubsub.rs: 100,000 PUBLISH (16-byte payload, pipelined by 100) per case; delivered messages/s; median of $rounds rounds, alternating servers" >>"$report"
    cargo bench --bench pubsub --no-run >&2
    declare -A res
    for r in $(seq 1 "$rounds"); do
        for s in redis rustis; do
            start_server "$s"
            while read -r name rate; do
                res[$s,$name]="${res[$s,$name]:-} $rate"
                echo "  $s round $r: $name $rate msg/s" >&2
            done < <(timeout "$bench_timeout" cargo bench -q --bench pubsub -- "${port[$s]}" 100000 2>/dev/null)
            stop_server "$s"
        done
    done
    median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }
    {
        echo
        echo "| case | redis msg/s | rustis msg/s | ratio |"
        echo "|---|---:|---:|---:|"
        for name in fanout_1x100 channels_1000x1; do
            a=$(echo "${res[redis,$name]:-}" | median)
            b=$(echo "${res[rustis,$name]:-}" | median)
            awk -v n="$name" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | %.0f | %.0f | %.2f |\n", n, a, b, (a > 0 ? b / a : 0) }'
        done
    } >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

if [ "$memory" -eq 1 ]; then
    header "memory"
    echo "- load: 1,000,000 x SET key:0000000..key:0999999 with 32-byte values via redis-cli --pipe" >>"$report"
    declare -A rss0 rss1 dbs
    for s in redis rustis; do
        start_server "$s"
        rss0[$s]=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$s]}/status")
        echo "==> loading 1,000,000 keys into $s" >&2
        load "$s" 1000000 "key:%07d" 32
        sleep 1
        rss1[$s]=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$s]}/status")
        dbs[$s]=$(cli "$s" dbsize)
        stop_server "$s"
    done
    {
        echo
        echo "| server | DBSIZE | RSS empty MB | RSS loaded MB |"
        echo "|---|---:|---:|---:|"
        for s in redis rustis; do
            awk -v s="$s" -v d="${dbs[$s]}" -v a="${rss0[$s]}" -v b="${rss1[$s]}" \
                'BEGIN { printf "| %s | %s | %.1f | %.1f |\n", s, d, a / 1024, b / 1024 }'
        done
        awk -v a="${rss1[redis]}" -v b="${rss1[rustis]}" \
            'BEGIN { printf "\nRSS ratio rustis/redis (loaded): %.2f\n", b / a }'
    } >>"$report"
    declare -A xlen
    for s in redis rustis; do
        start_server "$s"
        rss0[$s]=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$s]}/status")
        echo "==> adding 1,000,000 stream entries to $s" >&2
        timeout "$bench_timeout" redis-benchmark -h 127.0.0.1 -p "${port[$s]}" -c 1 -P 100 -n 1000000 \
            XADD s '*' f v >/dev/null 2>&1
        sleep 1
        rss1[$s]=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$s]}/status")
        xlen[$s]=$(cli "$s" xlen s)
        stop_server "$s"
    done
    {
        echo
        echo "- stream: 1,000,000 x XADD s * f v (redis-benchmark -c 1 -P 100)"
        echo
        echo "| server | XLEN | RSS empty MB | RSS loaded MB | growth MB |"
        echo "|---|---:|---:|---:|---:|"
        for s in redis rustis; do
            awk -v s="$s" -v d="${xlen[$s]}" -v a="${rss0[$s]}" -v b="${rss1[$s]}" \
                'BEGIN { printf "| %s | %s | %.1f | %.1f | %.1f |\n", s, d, a / 1024, b / 1024, (b - a) / 1024 }'
        done
        awk -v a="$((rss1[redis] - rss0[redis]))" -v b="$((rss1[rustis] - rss0[rustis]))" \
            'BEGIN { printf "\nStream growth ratio rustis/redis: %.2f\n", b / a }'
    } >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

if [ "$metrics" -eq 1 ]; then
    header "metrics on vs off"
    mport=$(free_port)
    sargs[on]="--metrics-port $mport --latency-tracking yes"
    sargs[off]="--metrics-port 0 --latency-tracking no"
    start_server on
    start_server off
    scrape() { # one GET /metrics per second on the "on" server while a run lasts
        while :; do
            { exec 3<>"/dev/tcp/127.0.0.1/$mport" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3 >/dev/null; } 2>/dev/null
            exec 3>&- 2>/dev/null || true
            sleep 1
        done
    }
    scrape &
    scraper=$!
    {
        echo "- on: --metrics-port $mport (scraped every second during the runs), latency-tracking yes"
        echo "- off: --metrics-port 0, latency-tracking no (counters INFO needs are kept either way)"
        echo "- redis-benchmark -c $clients -n $requests -r $keyspace -t set/get -P 1/16; median of $rounds rounds, order flipped every round"
        echo
        echo "| test | -P | on rps | off rps | on/off |"
        echo "|---|---:|---:|---:|---:|"
    } >>"$report"
    declare -A mres
    for t in set get; do
        for d in 1 16; do
            for r in $(seq 1 "$rounds"); do
                if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
                for s in $order; do
                    rps=$(rps_of "$s" "$d" -t "$t")
                    echo "  $s $t -P $d round $r: ${rps:-n/a} rps" >&2
                    mres[$s,$t,$d]="${mres[$s,$t,$d]:-} ${rps:-0}"
                done
            done
            a=$(echo "${mres[on,$t,$d]}" | median_of)
            b=$(echo "${mres[off,$t,$d]}" | median_of)
            awk -v t="$t" -v d="$d" -v a="$a" -v b="$b" \
                'BEGIN { printf "| %s | %s | %.0f | %.0f | %.3f |\n", t, d, a, b, (b > 0 ? a / b : 0) }' >>"$report"
        done
    done
    kill "$scraper" 2>/dev/null || true
    wait "$scraper" 2>/dev/null || true
    echo >>"$report"
    echo "last scrape: $(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$mport; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" | grep -c '^rustis_' ) rustis_ series lines in the last scrape" >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

if [ "$scripts" -eq 1 ]; then
    header "scripts: parallel vs exclusive vs redis-server"
    sargs[excl]="--script-parallel no"
    start_server redis
    start_server rustis
    start_server excl
    declared="return redis.call('incr', KEYS[1])"
    undeclared="return redis.call('incr', ARGV[1])"
    slow="local t = redis.call('time') local s = t[1] * 1000000 + t[2] repeat t = redis.call('time') until t[1] * 1000000 + t[2] - s >= 1000 return redis.call('incr', KEYS[1])"
    for s in redis rustis excl; do
        sha_d=$(cli "$s" script load "$declared")
        sha_u=$(cli "$s" script load "$undeclared")
        sha_s=$(cli "$s" script load "$slow")
    done
    {
        echo "- scripts: \`$declared\` (sha $sha_d) and \`$undeclared\` (sha $sha_u), loaded with SCRIPT LOAD"
        echo "- beside-slow: random-keys while \`redis-benchmark -c 1\` keeps running a script that spins 1 ms (TIME) then INCRs \`slow\`"
        echo "- rustis: script-parallel yes (default); excl: --script-parallel no (every script alone, as in Redis)"
        echo "- redis-benchmark -c $clients -n $requests -r $keyspace -P 1/16; median of $rounds rounds, server order rotated every round"
        echo
        echo "| case | -P | redis rps | rustis rps | excl rps | rustis/redis | rustis/excl |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
    } >>"$report"
    declare -A sres
    for case in random-keys one-key undeclared beside-slow; do
        case $case in
            random-keys | beside-slow) cmd=(EVALSHA "$sha_d" 1 "key:__rand_int__") ;;
            one-key) cmd=(EVALSHA "$sha_d" 1 counter) ;;
            undeclared) cmd=(EVALSHA "$sha_u" 0 "key:__rand_int__") ;;
        esac
        for d in 1 16; do
            for r in $(seq 1 "$rounds"); do
                case $((r % 3)) in 1) order="redis rustis excl" ;; 2) order="rustis excl redis" ;; *) order="excl redis rustis" ;; esac
                for s in $order; do
                    spinner=""
                    if [ "$case" = beside-slow ]; then
                        redis-benchmark -h 127.0.0.1 -p "${port[$s]}" -c 1 -n 100000000 EVALSHA "$sha_s" 1 slow \
                            >/dev/null 2>&1 &
                        spinner=$!
                        sleep 0.5
                    fi
                    rps=$(rps_of "$s" "$d" "${cmd[@]}")
                    if [ -n "$spinner" ]; then
                        kill "$spinner" 2>/dev/null || true
                        wait "$spinner" 2>/dev/null || true
                    fi
                    echo "  $s $case -P $d round $r: ${rps:-n/a} rps" >&2
                    sres[$s,$case,$d]="${sres[$s,$case,$d]:-} ${rps:-0}"
                done
            done
            a=$(echo "${sres[redis,$case,$d]}" | median_of)
            b=$(echo "${sres[rustis,$case,$d]}" | median_of)
            c=$(echo "${sres[excl,$case,$d]}" | median_of)
            awk -v t="$case" -v d="$d" -v a="$a" -v b="$b" -v c="$c" \
                'BEGIN { printf "| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", t, d, a, b, c, (a > 0 ? b / a : 0), (c > 0 ? b / c : 0) }' >>"$report"
        done
    done
    echo >>"$report"
    echo "rustis: $(cli rustis info stats | grep -E '^rustis_script' | tr -d '\r' | tr '\n' ' ')" >>"$report"
    cat "$report"
    [ -n "$out" ] && cp "$report" "$out"
    exit 0
fi

bench_args="-h 127.0.0.1 -p PORT -c $clients -n $requests -r $keyspace -P DEPTH -t TEST --csv"
header "throughput"
{
    echo "- redis-benchmark $bench_args (PORT/DEPTH/TEST per cell); median of $rounds rounds, server order flipped every round"
    echo "- keyspace preloaded (SET key:000000000000..key:$(printf '%012d' $((keyspace - 1))), 3-byte values) before get; FLUSHALL before each test"
    echo "- note: the benchmark client runs on the same $(nproc) cores as the server under test"
} >>"$report"

start_server redis
start_server rustis
results="$tmp/results"  # lines: test depth server round rps p50 p99 us_per_req
: >"$results"

run_one() { # run_one server test depth round
    local s=$1 t=$2 d=$3 r=$4 c0 c1 csv line
    kill -0 "${pid[$s]}" 2>/dev/null || { echo "error: $s is no longer running" >&2; return 1; }
    c0=$(cpu_ticks "${pid[$s]}")
    # shellcheck disable=SC2046  # test_args expands to several words on purpose
    if ! csv=$(timeout "$bench_timeout" redis-benchmark -h 127.0.0.1 -p "${port[$s]}" -c "$clients" \
        -n "$requests" -r "$keyspace" -P "$d" --csv $(test_args "$t") 2>"$tmp/bench.err"); then
        echo "warning: redis-benchmark failed or timed out: $s $t -P $d round $r" >&2
        return 0
    fi
    c1=$(cpu_ticks "${pid[$s]}")
    line=$(grep -v '^"test"' <<<"$csv" | tail -n 1)
    [ -n "$line" ] || { echo "warning: no CSV row: $s $t -P $d round $r" >&2; return 0; }
    # "TEST","rps","avg","min","p50","p95","p99","max"
    awk -F'","' -v s="$s" -v t="$t" -v d="$d" -v r="$r" -v dc=$((c1 - c0)) -v hz="$hz" -v n="$requests" \
        '{ printf "%s %s %s %s %s %s %s %.3f\n", t, d, s, r, $2, $5, $7, dc / hz * 1e6 / n }' \
        <<<"$line" >>"$results"
    awk -v s="$s" '{ printf "  %-6s round %s: %s rps, p50 %s ms, p99 %s ms, %s us/req\n", s, $4, $5, $6, $7, $8 }' \
        <(tail -n 1 "$results") >&2
}

IFS=',' read -r -a test_list <<<"$tests"
for t in "${test_list[@]}"; do
    for s in redis rustis; do
        cli "$s" flushall >/dev/null
        case "$t" in
            get) load "$s" "$keyspace" "key:%012d" 3 ;;
            rpop) load_list "$s" $((requests * rounds * 2 + 1000)) ;;
            zrangebyscore) load_zset "$s" 1000 ;;
        esac
    done
    for d in $pipelines; do
        echo "==> $t -P $d" >&2
        for r in $(seq 1 "$rounds"); do
            if [ $((r % 2)) -eq 1 ]; then order="redis rustis"; else order="rustis redis"; fi
            for s in $order; do run_one "$s" "$t" "$d" "$r"; done
        done
    done
done

median() { # median test depth server column -> value or n/a
    awk -v t="$1" -v d="$2" -v s="$3" -v c="$4" '$1 == t && $2 == d && $3 == s { print $c }' "$results" \
        | sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b != "n/a") printf "%.2f", b / a; else print "n/a" }'; }

{
    echo
    echo "| test | -P | redis rps | rustis rps | ratio | redis p50/p99 ms | rustis p50/p99 ms | p99 ratio | redis µs/req | rustis µs/req |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for t in "${test_list[@]}"; do
        for d in $pipelines; do
            declare -A m=()
            for s in redis rustis; do
                for col in 5 6 7 8; do m[$s$col]=$(median "$t" "$d" "$s" "$col"); done
            done
            printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s |\n' "$t" "$d" \
                "${m[redis5]}" "${m[rustis5]}" "$(ratio "${m[redis5]}" "${m[rustis5]}")" \
                "${m[redis6]}" "${m[redis7]}" "${m[rustis6]}" "${m[rustis7]}" \
                "$(ratio "${m[redis7]}" "${m[rustis7]}")" "${m[redis8]}" "${m[rustis8]}"
        done
    done
    echo
    echo "ratio = rustis/redis (rps: higher is better for rustis; p99: lower is better)."
} >>"$report"
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
exit 0
