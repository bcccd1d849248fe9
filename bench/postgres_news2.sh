#!/usr/bin/env bash
# bench/postgres_news2.sh: NEWS2 at every evaluation point, cdr against PostgreSQL, on the
# same NDJSON stream (e.g. the realistic one: bench/replay.sh realistic ...). PostgreSQL
# (Debian's) runs in a throw-away cluster started here as the `postgres` user, on one core
# for the query (no parallel workers, as cdr runs on one), fsync off. It loads the stream's
# lines as they are (COPY), keeps the events of the signals NEWS2 reads within their
# plausible ranges (rules/schema/vitals.cdr: what cdr dead-letters is left out on both
# sides), indexes them by (patient, signal, time), and computes in one query the score of
# rules/news2.cdr at each point where such an event arrives: the latest value of each
# parameter in (t - 4h, t], the Chart 1 bands of the rule, 0 for a parameter unknown
# (the rule's `?? 0`), supplemental oxygen scoring 2 when the latest FiO2 is above 0.21.
# cdr runs rules/news2.cdr alone (with its schema). The scores are compared point by
# point with cdr's trace; then RUNS interleaved timings of each: cdr end to end, and
# PostgreSQL's load plus query, and its query alone.
# Usage: bench/postgres_news2.sh STREAM [RUNS]   (RUNS default 3; needs the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
stream="$(realpath "$1")"
runs="${2:-3}"
cdr=build-release/bin/cdr
[ -x "$cdr" ] || { echo "postgres_news2: build first: scripts/build release" >&2; exit 2; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { echo "postgres_news2: PostgreSQL is not installed (apt install postgresql)" >&2; exit 2; }
id postgres >/dev/null 2>&1 || { echo "postgres_news2: no postgres user" >&2; exit 2; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
port=54329
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/pg" "$tmp/sock"
chown postgres "$tmp/pg" "$tmp/sock"
as_pg "$pgbin/initdb" -D "$tmp/pg" -A trust -U bench --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/sock/log" -w start \
  -o "-p $port -k $tmp/sock -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c shared_buffers=2GB -c work_mem=512MB -c maintenance_work_mem=1GB -c max_parallel_workers_per_gather=0 \
      -c max_parallel_maintenance_workers=0 -c max_wal_size=8GB -c TimeZone=UTC -c client_min_messages=warning" >/dev/null
psql() { command psql -X -q -v ON_ERROR_STOP=1 -h "$tmp/sock" -p "$port" -U bench -d postgres "$@"; }

# The signals NEWS2 reads, their codes and plausible ranges (rules/schema/vitals.cdr).
load_sql="
DROP TABLE IF EXISTS raw, ev;
CREATE UNLOGGED TABLE raw (line text);
COPY raw FROM '$stream';
CREATE UNLOGGED TABLE ev AS
  SELECT j->>'patient' AS patient, (j->>'time')::timestamptz AS t, s.name, (j->>'value')::numeric AS v
  FROM (SELECT line::jsonb AS j FROM raw) e
  JOIN (VALUES ('9279-1', 'resp_rate', 0, 80), ('59408-5', 'spo2', 0, 100), ('8480-6', 'sbp', 20, 300),
               ('8867-4', 'heart_rate', 0, 300), ('8310-5', 'temp', 25, 45), ('8331-1', 'temp', 25, 45),
               ('3150-0', 'fio2', 0.21, 1)) AS s(code, name, lo, hi)
    ON s.code = j->'code'->>'code' AND (j->>'value')::numeric BETWEEN s.lo AND s.hi;
DROP TABLE raw;
CREATE INDEX ON ev (patient, name, t);
ANALYZE ev;"
# Each point: the latest value of each parameter in (t - 4h, t].
query_sql="
COPY (
  WITH points AS (SELECT DISTINCT patient, t FROM ev)
  SELECT p.patient, to_char(p.t, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
    CASE WHEN rr.v <= 8 THEN 3 WHEN rr.v <= 11 THEN 1 WHEN rr.v <= 20 THEN 0 WHEN rr.v <= 24 THEN 2
         WHEN rr.v > 24 THEN 3 ELSE 0 END
  + CASE WHEN sat.v <= 91 THEN 3 WHEN sat.v <= 93 THEN 2 WHEN sat.v <= 95 THEN 1 ELSE 0 END
  + CASE WHEN fio2.v > 0.21 THEN 2 ELSE 0 END
  + CASE WHEN sys.v <= 90 THEN 3 WHEN sys.v <= 100 THEN 2 WHEN sys.v <= 110 THEN 1 WHEN sys.v <= 219 THEN 0
         WHEN sys.v > 219 THEN 3 ELSE 0 END
  + CASE WHEN pulse.v <= 40 THEN 3 WHEN pulse.v <= 50 THEN 1 WHEN pulse.v <= 90 THEN 0 WHEN pulse.v <= 110 THEN 1
         WHEN pulse.v <= 130 THEN 2 WHEN pulse.v > 130 THEN 3 ELSE 0 END
  + CASE WHEN tmp.v <= 35.0 THEN 3 WHEN tmp.v <= 36.0 THEN 1 WHEN tmp.v <= 38.0 THEN 0 WHEN tmp.v <= 39.0 THEN 1
         WHEN tmp.v > 39.0 THEN 2 ELSE 0 END
  FROM points p
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'resp_rate' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) rr ON true
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'spo2' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) sat ON true
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'fio2' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) fio2 ON true
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'sbp' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) sys ON true
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'heart_rate' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) pulse ON true
  LEFT JOIN LATERAL (SELECT v FROM ev WHERE patient = p.patient AND name = 'temp' AND t > p.t - interval '4 hours' AND t <= p.t ORDER BY t DESC LIMIT 1) tmp ON true
) TO STDOUT"

# NEWS2 alone for cdr: the rule and its schema.
mkdir "$tmp/rules"
cp rules/news2.cdr rules/schema/vitals.cdr "$tmp/rules/"

now() { date +%s.%N; }
# Correctness first: every point's score equal.
psql -c "$load_sql"
psql -c "$query_sql" | LC_ALL=C sort >"$tmp/pg.scores"
"$cdr" run --live review --rules "$tmp/rules" --events "$stream" --out /dev/null --trace "$tmp/trace.ndjson" 2>/dev/null
python3 - "$tmp/trace.ndjson" <<'EOF' | LC_ALL=C sort >"$tmp/cdr.scores"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["rule"] == "news2":
        print(f'{r["patient"]}\t{r["time"]}\t{r["values"]["score"]}')
EOF
points=$(wc -l <"$tmp/cdr.scores")
if ! cmp -s "$tmp/pg.scores" "$tmp/cdr.scores"; then
  echo "postgres_news2: the scores differ ($(wc -l <"$tmp/pg.scores") points in PostgreSQL, $points in cdr):" >&2
  diff "$tmp/pg.scores" "$tmp/cdr.scores" | head -10 >&2
  exit 1
fi
echo "postgres_news2: $points evaluation points, every score equal" >&2

for i in $(seq "$runs"); do
  a=$(now)
  "$cdr" run --live review --rules "$tmp/rules" --events "$stream" --out /dev/null 2>/dev/null
  b=$(now)
  psql -c "$load_sql"
  c=$(now)
  psql -c "$query_sql" >/dev/null
  d=$(now)
  echo "$b $a $c $b $d $c" | awk -v i="$i" '{ printf "postgres_news2: run %d: cdr %.2f s, PostgreSQL load %.2f s + query %.2f s\n", i, $1 - $2, $3 - $4, $5 - $6 }' >&2
  echo "$b $a $c $b $d $c" | awk '{ print $1 - $2, $3 - $4 + $5 - $6, $5 - $6 }'
done | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin]
cdr, pg, query = (statistics.median(r[k] for r in rows) for k in range(3))
print(f"postgres_news2: {sys.argv[1]} points; medians of {len(rows)} runs: cdr {cdr:.2f} s end to end; PostgreSQL {pg:.2f} s "
      f"(load and index {pg - query:.2f} s, query {query:.2f} s): {pg / cdr:.1f}x cdr end to end, {query / cdr:.1f}x on the query alone")
' "$points"
