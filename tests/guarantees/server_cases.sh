#!/usr/bin/env bash
# Guarantees that need a server stopped, restarted or held up: each case
# prints what it measured and PASS or FAIL; the run ends with
# "N passed, N failed" and exits non-zero if any case failed.
#
#   - DROP EXTENSION, a restart, CREATE EXTENSION: no version repeats (I3)
#   - the worker fails between publishing a batch and persisting it: the
#     batch is persisted and announced once, never counted twice (I2, I4)
#   - the worker terminated alone, a commit in the gap, an immediate stop:
#     the commit's bump survives (I2)
#   - ALTER DATABASE ... SET default_transaction_read_only = on (and
#     ALLOW_CONNECTIONS false): the worker keeps serving (I2, I7)
#   - LOCK TABLE cascade_rules held by a session: commits do not wait (I7, I8)
#   - a migration holding a new table's registration open: commits do not wait
#   - 10,000 cascade rules: commits do not wait out the timeout
#   - a 100,000-tenant transaction: no reset, every tenant moves, other
#     commits unaffected
#   - a bad ring_size in postgresql.conf stops the start with its reason
#
# Runs its own cluster (scripts/cluster.sh) in FRAISEQL_GUARANTEES_DIR on
# FRAISEQL_GUARANTEES_PORT and destroys it on exit.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

export FRAISEQL_CLUSTER_DIR=${FRAISEQL_GUARANTEES_DIR:-/tmp/fc_guarantees}
export FRAISEQL_PORT=${FRAISEQL_GUARANTEES_PORT:-55470}
export FRAISEQL_DB=fc_guarantees
# Logical replication for the publication case.
export FRAISEQL_EXTRA_CONF="wal_level = logical
max_replication_slots = 4
max_wal_senders = 4"
CLUSTER="$ROOT/scripts/cluster.sh"
trap '"$CLUSTER" destroy >/dev/null 2>&1' EXIT

passed=0
failed=0
check() {  # name, condition-result (0 = pass), detail
  if [ "$2" -eq 0 ]; then
    echo "PASS $1: $3"
    passed=$((passed + 1))
  else
    echo "FAIL $1: $3"
    failed=$((failed + 1))
  fi
}

"$CLUSTER" start >/dev/null || { echo "could not start the cluster"; echo "0 passed, 1 failed"; exit 1; }
eval "$("$CLUSTER" env)"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
T1=00000000-0000-0000-0000-0000000000c1
ALL=00000000-0000-0000-0000-000000000000

# N one-row commits to tv_g; prints the slowest in ms.
timed_updates() {
  local slowest=0 ms
  for _ in $(seq "$1"); do
    ms=$(commit_ms "UPDATE tv_g SET n = n + 1 WHERE id = 1")
    [ "$ms" -gt "$slowest" ] && slowest=$ms
  done
  echo "$slowest"
}
wait_serving() {
  for _ in $(seq 200); do
    if [ "$(q -c "SELECT coalesce((SELECT serving FROM fraiseql_cache.stats()), false)" 2>/dev/null)" = t ]; then return 0; fi
    sleep 0.05
  done
  return 1
}
ver() { q -c "SELECT fraiseql_cache.current_version('$1', '$2')"; }
# A commit's wall time in ms, measured by psql around one statement.
commit_ms() {
  local t0 t1
  t0=$(date +%s%N)
  q -c "$1" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

q -c "CREATE EXTENSION pg_fraiseql_cache" && wait_serving
q <<'SQL'
CREATE TABLE tv_g (id int PRIMARY KEY, tenant_id uuid, n int DEFAULT 0);
SELECT fraiseql_cache.setup_table_invalidation('tv_g');
SQL
q -c "INSERT INTO tv_g VALUES (1, '$T1')"

# ---- DROP EXTENSION, restart, CREATE EXTENSION ------------------------------------
before_t=$(ver $T1 g); before_all=$(ver $ALL g); before_never=$(ver 00000000-0000-0000-0000-0000000000ff g)
q -c "DROP EXTENSION pg_fraiseql_cache CASCADE" 2>/dev/null
"$CLUSTER" restart fast >/dev/null
q -c "CREATE EXTENSION pg_fraiseql_cache" && wait_serving
q -c "SELECT fraiseql_cache.setup_table_invalidation('tv_g')" >/dev/null
after_t=$(ver $T1 g); after_all=$(ver $ALL g); after_never=$(ver 00000000-0000-0000-0000-0000000000ff g)
ok=1; [ "$after_t" -gt "$before_t" ] && [ "$after_all" -gt "$before_all" ] && [ "$after_never" -gt "$before_never" ] && ok=0
check drop_restart_create $ok "tenant $before_t -> $after_t, all-tenants $before_all -> $after_all, never-seen $before_never -> $after_never"

# ---- a domain turned global, then tenant-scoped again, across clean restarts ----------
q -c "CREATE TABLE tv_sc (id int, tenant_id uuid); SELECT fraiseql_cache.setup_table_invalidation('tv_sc', 'sc')" >/dev/null
q -c "INSERT INTO tv_sc SELECT g, '$T1' FROM generate_series(1, 3) g"
for i in 1 2 3; do q -c "UPDATE tv_sc SET id = id + 1"; done
q -c "CREATE TABLE tv_sc_global (id int); SELECT fraiseql_cache.setup_table_invalidation('tv_sc_global', 'sc', NULL)" >/dev/null
seen_global=$(ver $T1 sc)
"$CLUSTER" restart fast >/dev/null; wait_serving
after_restart=$(ver $T1 sc)
# The trigger dropped first, the registration removed in a later transaction.
q -c "DROP TRIGGER zz_fraiseql_cache_row ON tv_sc_global"
q -c "SELECT fraiseql_cache.remove_table_invalidation('tv_sc_global')" >/dev/null
seen_tenant=$(ver $T1 sc)
"$CLUSTER" restart fast >/dev/null; wait_serving
after_second=$(ver $T1 sc)
ok=1; [ "$after_restart" -ge "$seen_global" ] && [ "$seen_tenant" -gt "$after_restart" ] && [ "$after_second" -ge "$seen_tenant" ] && ok=0
check scope_change_across_restarts $ok "global: $seen_global, after a clean restart $after_restart; tenant-scoped again: $seen_tenant, after a clean restart $after_second"

# ---- the worker fails after publishing a batch, before persisting it -----------------
# A batch that only bumps pairs is published before the worker's transaction
# commits. A trigger on domain_version makes that transaction fail once: the
# restarted worker persists and announces the batch at the version published,
# without counting it twice.
q <<'SQL'
CREATE SEQUENCE public.fail_once;
CREATE FUNCTION public.fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.domain = 'g' AND nextval('public.fail_once') = 1 THEN
    RAISE EXCEPTION 'injected failure of the worker''s write';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fail_once BEFORE UPDATE ON fraiseql_cache.domain_version
  FOR EACH ROW EXECUTE FUNCTION public.fail_once();
SQL
before=$(ver $T1 g)
printf 'LISTEN cache_invalidation;\nSELECT pg_sleep(4);\n' | psql -X -q -At >"$FRAISEQL_CLUSTER_DIR/listen_fail.out" 2>&1 &
listener=$!
sleep 0.5
log_from=$(wc -c <"$FRAISEQL_CLUSTER_DIR/server.log")
q -c "UPDATE tv_g SET n = n + 1 WHERE id = 1"
published=$(ver $T1 g)
table_then=$(q -c "SELECT coalesce(max(version), 0) FROM fraiseql_cache.domain_version WHERE tenant_id = '$T1' AND domain = 'g'")
caught_up=$(q -c "SELECT fraiseql_cache.wait_for_persistence(20000)")
stored=$(q -c "SELECT version FROM fraiseql_cache.domain_version WHERE tenant_id = '$T1' AND domain = 'g'")
after=$(ver $T1 g)
wait $listener
failures=$(tail -c +"$((log_from + 1))" "$FRAISEQL_CLUSTER_DIR/server.log" | grep -c "injected failure of the worker's write")
replayed=$(tail -c +"$((log_from + 1))" "$FRAISEQL_CLUSTER_DIR/server.log" | grep -c "published by a worker that stopped before persisting them")
heard=$(grep -c "\"tenant_id\": \"$T1\", \"domain\": \"g\", \"version\": $published[,}]" "$FRAISEQL_CLUSTER_DIR/listen_fail.out")
# The same failure with wait_for_bump = persisted: COMMIT returns only once
# domain_version holds the bump, here after the next worker persisted it.
q -c "SELECT setval('public.fail_once', 1, false)" >/dev/null
before_p=$(ver $T1 g)
# The wait outlasts the failed worker's restart (bgw_restart_time, 1 s).
q -c "SET fraiseql_cache.wait_for_bump = persisted; SET fraiseql_cache.wait_timeout_ms = 20000; UPDATE tv_g SET n = n + 1 WHERE id = 1"
table_p=$(q -c "SELECT coalesce(max(version), 0) FROM fraiseql_cache.domain_version WHERE tenant_id = '$T1' AND domain = 'g'")
failed_again=$(q -c "SELECT nextval('public.fail_once') > 2")
q -c "DROP TRIGGER fail_once ON fraiseql_cache.domain_version; DROP FUNCTION public.fail_once(); DROP SEQUENCE public.fail_once"
ok=1; [ "$table_p" -eq $((before_p + 1)) ] && [ "$failed_again" = t ] && ok=0
check wait_for_bump_persisted $ok "with the worker's write failing once more (the failing write and its retry seen: $failed_again): domain_version $before_p -> $table_p when COMMIT returned"
ok=1; [ "$published" -eq $((before + 1)) ] && [ "$table_then" -le "$published" ] && [ "$caught_up" = t ] && [ "$stored" -eq "$published" ] &&
  [ "$after" -eq "$published" ] && [ "$failures" -ge 1 ] && [ "$replayed" -ge 1 ] && [ "$heard" -eq 1 ] && ok=0
check failure_between_publication_and_persistence $ok "version $before -> $published when COMMIT returned; the worker's write failed $failures time(s), its successor persisted the published batch ($replayed LOG line); domain_version meanwhile $table_then, caught up: $caught_up, holds $stored; now $after; announced $heard time(s)"

# ---- worker terminated alone, a commit in the gap, an immediate stop ------------
before=$(ver $T1 g)
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker'" >/dev/null
# The postmaster restarts the worker after bgw_restart_time (1 s): this
# commit lands in the ring while no worker runs.
q -c "SET fraiseql_cache.wait_for_bump = off; UPDATE tv_g SET n = n + 1 WHERE id = 1"
"$CLUSTER" restart immediate >/dev/null
wait_serving
after=$(ver $T1 g)
ok=1; [ "$after" -gt "$before" ] && ok=0
check sigterm_then_immediate_stop $ok "version $before before the commit, $after after the immediate stop"

# ---- a read-only database, no connections allowed ----------------------------------
q -c "ALTER DATABASE $FRAISEQL_DB SET default_transaction_read_only = on"
q -c "ALTER DATABASE $FRAISEQL_DB ALLOW_CONNECTIONS false" -d postgres
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker'" -d postgres >/dev/null
worker_back=0
for _ in $(seq 60); do  # restarted after bgw_restart_time, while connections are refused
  sleep 0.1
  worker_back=$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fraiseql_cache worker' AND datname = '$FRAISEQL_DB'")
  [ "$worker_back" -gt 0 ] && break
done
q -c "ALTER DATABASE $FRAISEQL_DB ALLOW_CONNECTIONS true" -d postgres
check worker_connects_when_connections_are_refused $([ "$worker_back" -gt 0 ]; echo $?) "worker back in the database while ALLOW_CONNECTIONS was false: $worker_back"
before=$(ver $T1 g)
ms=$(commit_ms "BEGIN READ WRITE; UPDATE tv_g SET n = n + 1 WHERE id = 1; COMMIT")
after=$(ver $T1 g)
q -d postgres -c "ALTER DATABASE $FRAISEQL_DB RESET default_transaction_read_only"
"$CLUSTER" restart fast >/dev/null
wait_serving
after_restart=$(ver $T1 g)
ok=1; [ "$after" -eq $((before + 1)) ] && [ "$after_restart" -ge "$after" ] && ok=0
check read_only_database $ok "version $before -> $after (commit $ms ms), $after_restart after a clean restart"

# ---- LOCK TABLE cascade_rules held by a session ---------------------------------------
q -c "CREATE ROLE rules_admin; GRANT USAGE ON SCHEMA fraiseql_cache TO rules_admin;
      GRANT SELECT, INSERT, UPDATE, DELETE ON fraiseql_cache.cascade_rules TO rules_admin"
q -c "INSERT INTO fraiseql_cache.cascade_rules VALUES ('g', 'g_target')"
q -c "UPDATE tv_g SET n = n + 1 WHERE id = 1"  # a batch after the rule change: the worker has read it
stats_before=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
psql -X -q -c "SET ROLE rules_admin; BEGIN; LOCK TABLE fraiseql_cache.cascade_rules IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 0.5
before=$(ver $T1 g); before_target=$(ver $T1 g_target)
slowest=$(timed_updates 10)
after=$(ver $T1 g); after_target=$(ver $T1 g_target)
stats_after=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
wait $holder
ok=1; [ "$after" -eq $((before + 10)) ] && [ "$after_target" -gt "$before_target" ] && [ "$stats_after" -eq "$stats_before" ] && ok=0
check lock_table_cascade_rules $ok "10 commits while the rules were locked: version +$((after - before)), cascade target +$((after_target - before_target)), slowest commit $slowest ms, timed-out or cut-short waits $((stats_after - stats_before))"
q -c "DELETE FROM fraiseql_cache.cascade_rules"

# ---- a migration holding a new table's registration open --------------------------
q -c "INSERT INTO fraiseql_cache.cascade_rules VALUES ('g', 'mig')"
psql -X -q -c "BEGIN; CREATE TABLE tv_mig (id int, tenant_id uuid); SELECT fraiseql_cache.setup_table_invalidation('tv_mig'); SELECT pg_sleep(5); COMMIT" >/dev/null 2>&1 &
migration=$!
sleep 0.5
stats_before=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
before=$(ver $T1 g)
slowest=$(timed_updates 10)
after=$(ver $T1 g)
stats_after=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
wait $migration
registered=$(q -c "SELECT count(*) FROM fraiseql_cache.domain_version WHERE domain = 'mig' AND tenant_id = '$ALL'")
ok=1; [ "$after" -eq $((before + 10)) ] && [ "$stats_after" -eq "$stats_before" ] && [ "$registered" -eq 1 ] && ok=0
check migration_in_progress $ok "10 commits during the migration: version +$((after - before)), slowest $slowest ms, timed-out or cut-short waits $((stats_after - stats_before)); the domain registered once it committed: $registered row"
q -c "DELETE FROM fraiseql_cache.cascade_rules"

# ---- 10,000 cascade rules ----------------------------------------------------------------
q -c "INSERT INTO fraiseql_cache.cascade_rules (source_domain, target_domain)
      SELECT 'r' || g, 'r' || (g + 1) FROM generate_series(1, 10000) g"
q -c "UPDATE tv_g SET n = n + 1 WHERE id = 1" >/dev/null  # the worker reads the rules once
stats_before=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
before=$(ver $T1 g)
slowest=$(timed_updates 20)
after=$(ver $T1 g)
stats_after=$(q -c "SELECT wait_timeouts + stalled_waits FROM fraiseql_cache.stats()")
ok=1; [ "$after" -eq $((before + 20)) ] && [ "$stats_after" -eq "$stats_before" ] && ok=0
check ten_thousand_rules $ok "20 commits: version +$((after - before)), slowest $slowest ms, timed-out waits $((stats_after - stats_before))"
q -c "DELETE FROM fraiseql_cache.cascade_rules"

# ---- a 100,000-tenant transaction --------------------------------------------------------
q -c "CREATE TABLE tv_many (id int, tenant_id uuid); SELECT fraiseql_cache.setup_table_invalidation('tv_many')" >/dev/null
floor=$(q -c "SELECT fraiseql_cache.current_version(gen_random_uuid(), 'many')")
read resets_before collapsed_before <<<"$(q -F' ' -c "SELECT resets + overflows, collapsed_transactions FROM fraiseql_cache.stats()")"
before=$(ver $T1 g)
q -c "INSERT INTO tv_many SELECT g, gen_random_uuid() FROM generate_series(1, 100000) g" &
big=$!
q -c "UPDATE tv_g SET n = n + 1 WHERE id = 1"
wait $big
after=$(ver $T1 g)
unmoved=$(q -c "SELECT count(*) FROM tv_many WHERE fraiseql_cache.current_version(tenant_id, 'many') <= $floor")
read resets_after collapsed_after <<<"$(q -F' ' -c "SELECT resets + overflows, collapsed_transactions FROM fraiseql_cache.stats()")"
ok=1; [ "$unmoved" -eq 0 ] && [ "$resets_after" -eq "$resets_before" ] && [ "$after" -eq $((before + 1)) ] && ok=0
check hundred_thousand_tenants $ok "tenants not moved: $unmoved of 100000; resets or overflows: $((resets_after - resets_before)); handed off per domain: $((collapsed_after - collapsed_before)); a concurrent commit elsewhere: +$((after - before))"

# ---- a publication FOR ALL TABLES: a subscriber imports none of the extension's rows ----
# Without an initial copy (copy_data = false): table synchronisation against the same
# cluster can deadlock with DROP SUBSCRIPTION. Everything below is written after the slot.
q -c "CREATE PUBLICATION fc_all FOR ALL TABLES"
q -c "SELECT pg_create_logical_replication_slot('fc_sub', 'pgoutput')" >/dev/null
q -d postgres -c "CREATE DATABASE fc_sub"
q -d fc_sub -c "CREATE EXTENSION pg_fraiseql_cache" 2>/dev/null
# The application tables (pre-data: no triggers).
"$(pg_config --bindir)/pg_dump" -s --section=pre-data -n public -d "$FRAISEQL_DB" | grep -v "^CREATE SCHEMA public" | q -d fc_sub >/dev/null
q -d fc_sub -c "CREATE SUBSCRIPTION fc_sub CONNECTION 'host=$PGHOST port=$PGPORT dbname=$FRAISEQL_DB user=postgres'
                PUBLICATION fc_all WITH (create_slot = false, slot_name = 'fc_sub', copy_data = false)"
q -c "INSERT INTO fraiseql_cache.cascade_rules VALUES ('g', 'g_published')"
q -c "INSERT INTO tv_g VALUES (4242, '$T1')"
arrived=0
for _ in $(seq 200); do
  [ "$(q -d fc_sub -c "SELECT count(*) FROM tv_g WHERE id = 4242" 2>/dev/null)" = 1 ] && { arrived=1; break; }
  sleep 0.1
done
imported=$(q -d fc_sub -c "SELECT (SELECT count(*) FROM fraiseql_cache.cascade_rules) + (SELECT count(*) FROM fraiseql_cache.worker_state)
                            + (SELECT count(*) FROM fraiseql_cache.domain_version) + (SELECT count(*) FROM fraiseql_cache.tracked_tables)")
skipped=$(grep -c "replicated changes to .* are ignored" "$FRAISEQL_CLUSTER_DIR/server.log")
q -d fc_sub -c "ALTER SUBSCRIPTION fc_sub DISABLE" >/dev/null
q -d fc_sub -c "ALTER SUBSCRIPTION fc_sub SET (slot_name = NONE)" >/dev/null
q -d fc_sub -c "DROP SUBSCRIPTION fc_sub" >/dev/null
for _ in $(seq 50); do
  q -c "SELECT pg_drop_replication_slot('fc_sub')" >/dev/null 2>&1 && break
  sleep 0.1
done
q -c "DROP PUBLICATION fc_all; DELETE FROM fraiseql_cache.cascade_rules; DELETE FROM tv_g WHERE id = 4242"
ok=1; [ "$arrived" -eq 1 ] && [ "$imported" -eq 0 ] && [ "$skipped" -ge 1 ] && ok=0
check publication_for_all_tables $ok "application row replicated: $arrived; rows of the extension's tables imported: $imported; WARNINGs that replicated rows were skipped: $skipped"

# ---- one role's domains cannot fill shared memory for the others ----------------------
echo "fraiseql_cache.max_entries_per_role = 300" >>"$FRAISEQL_CLUSTER_DIR/data/postgresql.conf"
q -c "SELECT pg_reload_conf()" >/dev/null
q -c "CREATE ROLE fill_role; GRANT USAGE ON SCHEMA fraiseql_cache TO fill_role; GRANT CREATE ON SCHEMA public TO fill_role"
q -c "SET ROLE fill_role; CREATE TABLE tv_fill (id int, tenant_id uuid); SELECT fraiseql_cache.setup_table_invalidation('tv_fill')" >/dev/null
sleep 0.5
log_from=$(wc -c <"$FRAISEQL_CLUSTER_DIR/server.log")
entries() { q -c "SELECT shared_entries FROM fraiseql_cache.stats()"; }
e0=$(entries)
q -c "INSERT INTO tv_fill SELECT g, gen_random_uuid() FROM generate_series(1, 2000) g"
e1=$(entries)
wrong=$(q -c "SELECT count(*) FROM tv_fill f WHERE fraiseql_cache.current_version(f.tenant_id, 'fill') IS DISTINCT FROM
              (SELECT version FROM fraiseql_cache.domain_version v WHERE v.tenant_id = f.tenant_id AND v.domain = 'fill')")
q -c "INSERT INTO tv_g SELECT 1000 + g, gen_random_uuid() FROM generate_series(1, 20) g"
e2=$(entries)
warning=$(tail -c +"$((log_from + 1))" "$FRAISEQL_CLUSTER_DIR/server.log" | grep -c "max_entries_per_role (300)")
ok=1; [ $((e1 - e0)) -le 301 ] && [ "$wrong" -eq 0 ] && [ $((e2 - e1)) -ge 20 ] && [ "$warning" -ge 1 ] && ok=0
check entries_bounded_per_role $ok "2000 tenants of one role's domain: +$((e1 - e0)) shared-memory pairs (bound 300), wrong answers $wrong; 20 new tenants of a superuser's domain after it: +$((e2 - e1)); WARNINGs naming the bound $warning"
sed -i '/^fraiseql_cache.max_entries_per_role = 300$/d' "$FRAISEQL_CLUSTER_DIR/data/postgresql.conf"
q -c "SELECT pg_reload_conf()" >/dev/null

# ---- more domains than shared memory names: exact answers, a WARNING naming max_domains --
echo "fraiseql_cache.max_domains = 64" >>"$FRAISEQL_CLUSTER_DIR/data/postgresql.conf"
"$CLUSTER" restart fast >/dev/null
wait_serving
log_from=$(wc -c <"$FRAISEQL_CLUSTER_DIR/server.log")
q -c "SELECT fraiseql_cache.invalidate('$T1', 'spill_' || g) FROM generate_series(1, 100) g" >/dev/null
q -c "SELECT fraiseql_cache.invalidate('$T1', 'spill_' || g) FROM generate_series(1, 100) g" >/dev/null
wrong=$(q -c "SELECT count(*) FROM generate_series(1, 100) g
              WHERE fraiseql_cache.current_version('$T1', 'spill_' || g) IS DISTINCT FROM
                    (SELECT version FROM fraiseql_cache.domain_version WHERE tenant_id = '$T1' AND domain = 'spill_' || g)")
warning=$(tail -c +"$((log_from + 1))" "$FRAISEQL_CLUSTER_DIR/server.log" | grep -c "fraiseql_cache.max_domains (now 64)")
ok=1; [ "$wrong" -eq 0 ] && [ "$warning" -ge 1 ] && ok=0
check domains_beyond_shared_memory $ok "100 domains with max_domains = 64: wrong answers $wrong, WARNINGs naming max_domains $warning"
sed -i '/^fraiseql_cache.max_domains = 64$/d' "$FRAISEQL_CLUSTER_DIR/data/postgresql.conf"

# ---- a bad value in postgresql.conf stops the start -------------------------------------
echo "fraiseql_cache.ring_size = 1000" >>"$FRAISEQL_CLUSTER_DIR/data/postgresql.conf"
if "$CLUSTER" restart fast >/dev/null 2>&1; then started=1; else started=0; fi
reason=$(grep -m1 "fraiseql_cache.ring_size" "$FRAISEQL_CLUSTER_DIR/server.log" | sed 's/.*\] //')
ok=1; [ "$started" -eq 0 ] && [ -n "$reason" ] && ok=0
check bad_setting_stops_start $ok "server started: $started; log: $reason"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
