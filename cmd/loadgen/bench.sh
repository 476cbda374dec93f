#!/usr/bin/env bash
# bench.sh: the README's performance runs, against the local MariaDB.
#
#   cmd/loadgen/bench.sh setup                  build, create the database, seed 15,000 users
#   cmd/loadgen/bench.sh run SCENARIO [FLAGS]   fresh server, one loadgen run, server stopped
#   cmd/loadgen/bench.sh compare reply|thread-read [FLAGS]
#                                               db-ceiling, then the server's run, and the ratio
#   cmd/loadgen/bench.sh compare push [FLAGS]   db-push at push's rate, then push: MariaDB's
#                                               part of created_at -> frame beside the whole
#   cmd/loadgen/bench.sh bare idle|broadcast [FLAGS]
#                                               the scenario against loadgen's bare gorilla
#                                               server (cmd/loadgen/bare.go): the floor here
#   cmd/loadgen/bench.sh live [FLAGS]           thread-live, with the other users' pushes read by a
#                                               process of their own, and those pushes alone
#   cmd/loadgen/bench.sh table                  every row of the README's table, in one sequence
#
# The resubscribe scenario starts two servers on Redis: the one under load
# reaches Redis through loadgen's proxy (which the scenario cuts), the
# other sends the notifications meanwhile.
#
# BENCH_SERVER_GOMAXPROCS, when set, is the servers' GOMAXPROCS (README,
# Performance: one P leaves MariaDB the other core, two write frames
# faster).
#
# Every run starts its own server (so that resident memory is measured from
# a fresh process) and stops it afterwards, whatever happens. Files go to
# $BENCH_DIR (default /tmp/discuss-bench). Loads only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

DIR=${BENCH_DIR:-/tmp/discuss-bench}
USERS=${BENCH_USERS:-15000}
PORT=${BENCH_PORT:-18080}
mkdir -p "$DIR"

export DISCUSS_DATABASE_DRIVER=mysql
# BENCH_DB names the database (created by setup); BENCH_DSN, when set,
# overrides the whole DSN.
DB_NAME=${BENCH_DB:-discuss_load}
export DISCUSS_DATABASE_DSN=${BENCH_DSN:-"root@tcp(127.0.0.1:3306)/$DB_NAME"}
export DISCUSS_AUTH_SECRET=load-test-secret-0123456789abcdef0123
export DISCUSS_DATABASE_AUTO_MIGRATE=true
REDIS=${BENCH_REDIS:-127.0.0.1:6379}
# loadgen opens up to 15,000 sockets from 127.0.0.1-127.0.0.8, past the
# default cap of 1,000 per address.
export DISCUSS_WEBSOCKET_EXEMPT_ADDRESSES=127.0.0.0/8
# The load comes from a few thousand users at most a few times a second
# each; the per-user limits would refuse the admin's notifications.
export DISCUSS_LIMITS_COMMENTS_PER_MINUTE=1000000
export DISCUSS_LIMITS_POSTS_PER_MINUTE=1000000
export DISCUSS_LIMITS_LOGIN_PER_MINUTE=1000
# One access-log line per request costs more than some requests do.
export DISCUSS_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
ulimit -n 20000

setup() {
	# The loadtest tag adds `discuss seed`, which production binaries lack.
	go build -tags loadtest -o "$DIR/discuss" ./cmd/discuss
	go build -o "$DIR/loadgen" ./cmd/loadgen
	mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS $DB_NAME"
	"$DIR/discuss" migrate up
	DISCUSS_USER_PASSWORD=load-admin-password "$DIR/discuss" user create --username load_admin --role admin || true
	# One post per user (for the reply scenarios), then a 10,000-comment
	# thread by the first user; its id is the first user's post.
	"$DIR/discuss" seed --users "$USERS" --posts "$USERS" --out "$DIR/users.txt"
	"$DIR/discuss" seed --users "$USERS" --thread-comments 10000 --out "$DIR/users.txt"
	awk 'NR == 1 { print $4 }' "$DIR/users.txt" >"$DIR/thread.id"
}

# serve PORT [VAR=VALUE...] starts a server on 127.0.0.1:PORT, with its
# internal listener (/metrics, which loadgen scrapes, /debug/pprof and
# /healthz) on PORT+1, in the background with the extra environment, and
# waits until it answers. The last one started is $SERVER; every one is
# stopped on exit.
SERVERS=()
stop_servers() {
	for s in "${SERVERS[@]}"; do
		kill "$s" 2>/dev/null
		wait "$s" 2>/dev/null || true
	done
	SERVERS=()
}
trap stop_servers EXIT
serve() {
	local port=$1 internal=127.0.0.1:$(($1 + 1))
	shift
	if curl -sf "http://$internal/healthz" >/dev/null; then
		echo "something already serves $internal; stop it first" >&2
		return 1
	fi
	env "$@" ${BENCH_SERVER_GOMAXPROCS:+GOMAXPROCS=$BENCH_SERVER_GOMAXPROCS} DISCUSS_SERVER_ADDR="127.0.0.1:$port" DISCUSS_SERVER_INTERNAL_ADDR="$internal" \
		"$DIR/discuss" serve 2>>"$DIR/server.log" &
	SERVER=$!
	SERVERS+=("$SERVER")
	for _ in $(seq 100); do
		kill -0 "$SERVER" 2>/dev/null || break
		curl -sf "http://$internal/healthz" >/dev/null && return 0
		sleep 0.1
	done
	echo "server did not start; see $DIR/server.log" >&2
	return 1
}

admin_token() {
	curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" \
		-d '{"username":"load_admin","password":"load-admin-password"}' |
		sed -E 's/.*"token":"([^"]+)".*/\1/' >"$DIR/admin.token"
}

loadgen() {
	"$DIR/loadgen" -url "http://127.0.0.1:$PORT" -metrics-url "http://127.0.0.1:$((PORT + 1))" \
		-users "$DIR/users.txt" -pid "$SERVER" -admin-token-file "$DIR/admin.token" \
		-post "$(cat "$DIR/thread.id")" "$@"
}

run() {
	local scenario=$1
	shift
	# Each step returns on failure itself: compare calls run in a ||
	# list, where set -e does not apply.
	reset_db || return
	if [ "$scenario" = resubscribe ]; then
		local proxy=127.0.0.1:$((PORT + 4))
		serve $((PORT + 2)) DISCUSS_BROKER_KIND=redis DISCUSS_BROKER_REDIS_ADDR="$REDIS" || return
		serve "$PORT" DISCUSS_BROKER_KIND=redis DISCUSS_BROKER_REDIS_ADDR="$proxy" || return
		admin_token || return
		loadgen -scenario resubscribe -writer-url "http://127.0.0.1:$((PORT + 2))" \
			-broker-proxy "$proxy=$REDIS" "$@"
		return
	fi
	serve "$PORT" || return
	admin_token || return
	loadgen -scenario "$scenario" "$@"
}

# reset_db brings the database back to where every run starts: no
# notifications, no fan-out and no watchers left by earlier runs. Whoever
# comments on a post watches it, so each reply or thread-live run would
# otherwise leave the next more watchers to fan out to (a dozen reply runs
# left 12 a post) and more unread notifications to count. Nor likes of the
# thread's comments (thread-read --like-every), so that every like of a run
# is a new one.
reset_db() {
	local thread
	thread=$(cat "$DIR/thread.id")
	# The binary's migrations first: the statements below name its columns.
	"$DIR/discuss" migrate up >/dev/null || return
	mariadb -uroot "$DB_NAME" -e "DELETE FROM fanout_outbox; DELETE FROM notifications;
		UPDATE users SET unread_notifications = 0, unseen_notifications = 0
			WHERE unread_notifications <> 0 OR unseen_notifications <> 0;
		DELETE FROM post_subscriptions;
		DELETE FROM comment_likes WHERE comment_id IN (SELECT id FROM comments WHERE post_id = $thread);
		DELETE FROM comment_like_notices WHERE comment_id IN (SELECT id FROM comments WHERE post_id = $thread);
		UPDATE comments SET like_count = 0 WHERE post_id = $thread AND like_count <> 0" || return
	settle_purge
}

# live measures the other users' pushes beside a hot post with a client of
# their own, as they would be in life, rather than in the process that
# reads the post's thousand subscribers (thread-live's own "others' push"
# row, which waits behind those reads): the second half of the users
# connect in a loadgen push process of their own, at 50/s, first alone,
# then, against a fresh server, while thread-live runs on the first half
# in the same window (--start-at). It prints the two p99s.
live() {
	local others=$((USERS / 2)) status=0 at pid
	head -n $((USERS - others)) "$DIR/users.txt" >"$DIR/users-live.txt"
	tail -n "$others" "$DIR/users.txt" >"$DIR/users-others.txt"
	echo "== push alone on the other $others users"
	run push -users "$DIR/users-others.txt" -rate 50 "$@" >"$DIR/live-alone.txt" || status=$?
	cat "$DIR/live-alone.txt"
	stop_servers
	echo "== thread-live on the first $((USERS - others)) users, push on the others from their own process"
	reset_db || return
	serve "$PORT" || return
	admin_token || return
	# Time for both to connect their half and settle.
	at=$(date -u -d '+40 seconds' +%Y-%m-%dT%H:%M:%SZ)
	loadgen -scenario push -users "$DIR/users-others.txt" -rate 50 -start-at "$at" "$@" >"$DIR/live-others.txt" &
	pid=$!
	loadgen -scenario thread-live -users "$DIR/users-live.txt" -start-at "$at" "$@" || status=$?
	wait "$pid" || status=$?
	cat "$DIR/live-others.txt"
	printf 'live: the other users'"'"' pushes, created_at to frame p99 %s alone, %s during thread-live\n' \
		"$(p99 "$DIR/live-alone.txt" 'push: created_at to frame')" "$(p99 "$DIR/live-others.txt" 'push: created_at to frame')"
	return "$status"
}

# settle_purge waits, up to a minute, for InnoDB to purge what the
# deletes above left (its history list): the purge of the last run's
# hundreds of thousands of notifications takes MariaDB's CPU for tens of
# seconds, and would slow the next run's first half.
settle_purge() {
	local len
	for _ in $(seq 600); do
		len=$(mariadb -uroot -e 'SHOW ENGINE INNODB STATUS\G' | sed -n 's/.*History list length \([0-9]*\).*/\1/p')
		[ "${len:-0}" -lt 1000 ] && return 0
		sleep 0.1
	done
	echo "InnoDB's history list is still $len long; running anyway" >&2
}

# rate FILE ROW prints the "per s" column of the first row of a loadgen
# report whose name contains ROW.
rate() {
	grep -F -- "$2" "$1" | head -1 | awk '{ print $(NF - 4) }'
}

# compare runs the server's statements for SCENARIO through database/sql
# alone (db-ceiling, $CEILING_WORKERS workers for $CEILING_DURATION), then
# the scenario against a fresh server, and prints the server's rate as a
# share of the ceiling's, both measured in the same run.
compare() {
	local scenario=$1 row ceiling status=0
	shift
	case "$scenario" in
	push)
		compare_push "$@"
		return
		;;
	reply) row='POST /posts/{id}/comments' ceiling='db-ceiling: reply' ;;
	thread-read) row='GET /api/v1/posts/' ceiling='db-ceiling: thread page from the cache' ;;
	*)
		echo "compare: reply, thread-read or push" >&2
		return 2
		;;
	esac
	"$DIR/loadgen" -scenario db-ceiling -users "$DIR/users.txt" -dsn "$DISCUSS_DATABASE_DSN" \
		-post "$(cat "$DIR/thread.id")" -workers "${CEILING_WORKERS:-8}" \
		-duration "${CEILING_DURATION:-20s}" >"$DIR/compare-ceiling.txt"
	cat "$DIR/compare-ceiling.txt"
	run "$scenario" "$@" >"$DIR/compare-server.txt" || status=$?
	cat "$DIR/compare-server.txt"
	awk -v s="$(rate "$DIR/compare-server.txt" "$row")" -v c="$(rate "$DIR/compare-ceiling.txt" "$ceiling")" -v n="$scenario" \
		'BEGIN { printf "compare %s: server %.1f/s, db-ceiling %.1f/s: %.0f%% of the ceiling\n", n, s, c, (c > 0 ? 100 * s / c : 0) }'
	return "$status"
}

# compare_push runs a system notification's transaction through
# database/sql alone at push's rate (db-push), then push against a fresh
# server with the same flags, and prints the two p99s: of created_at to
# COMMIT, the database's part, and of created_at to the frame.
compare_push() {
	local status=0
	"$DIR/loadgen" -scenario db-push -users "$DIR/users.txt" -dsn "$DISCUSS_DATABASE_DSN" \
		-workers "${CEILING_WORKERS:-8}" "$@" >"$DIR/compare-ceiling.txt"
	cat "$DIR/compare-ceiling.txt"
	run push "$@" >"$DIR/compare-server.txt" || status=$?
	cat "$DIR/compare-server.txt"
	printf 'compare push: p99 created_at to COMMIT %s (database/sql alone), created_at to frame %s (the server)\n' \
		"$(p99 "$DIR/compare-ceiling.txt" 'db-push: created_at to COMMIT')" "$(p99 "$DIR/compare-server.txt" 'push: created_at to frame')"
	return "$status"
}

# p99 FILE ROW prints the p99 column of the first row of a loadgen report
# whose name contains ROW.
p99() {
	grep -F -- "$2" "$1" | head -1 | awk '{ print $(NF - 1) }'
}

# bare runs SCENARIO (idle or broadcast) against `loadgen bare`, a
# gorilla server that does nothing but hello and writing one frame to every
# socket, on PORT + 10: what the machine allows the scenario, beside the
# server's own run.
bare() {
	local scenario=$1 port=$((PORT + 10)) pid status=0
	shift
	case "$scenario" in
	idle | broadcast) ;;
	*)
		echo "bare: idle or broadcast" >&2
		return 2
		;;
	esac
	"$DIR/loadgen" bare -listen "127.0.0.1:$port" 2>>"$DIR/bare.log" &
	pid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/ws" && break
		sleep 0.1
	done
	"$DIR/loadgen" -scenario "$scenario" -url "http://127.0.0.1:$port" -users "$DIR/users.txt" \
		-pid "$pid" -admin-token bare "$@" || status=$?
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	return "$status"
}

# table runs every row of the README's performance table in one sequence,
# each against a fresh server, and writes each run's report, headed by the
# time and the load average before and after it, to $DIR/table.txt. One
# sequence on one build, so that the rows can be read side by side.
table() {
	local out=$DIR/table.txt status=0
	: >"$out"
	row() {
		local name=$1
		shift
		echo "=== $name: $* ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), server GOMAXPROCS ${BENCH_SERVER_GOMAXPROCS:-$(nproc)})" >>"$out"
		"$@" >>"$out" 2>&1 || {
			status=$?
			echo "=== $name failed: exit $status" >>"$out"
		}
		stop_servers
		echo "=== end of $name ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))" >>"$out"
		echo "$name done"
	}
	row idle run idle -duration 30s -settle 5s -dial-concurrency 200
	row idle-bare bare idle -duration 30s -settle 5s -dial-concurrency 200
	row push compare push -rate 200 -duration 30s -settle 5s
	row reply-push run reply -rate 200 -duration 30s -settle 5s
	row reply-throughput compare reply -rate 2000 -duration 20s -settle 5s -inflight 512 -timeout 60s
	row reconnect run reconnect -rate 1000 -count 1 -settle 5s -timeout 60s
	row broadcast run broadcast -count 8 -settle 3s
	row broadcast-bare bare broadcast -count 8 -settle 3s
	row resubscribe run resubscribe -rate 1000 -count 1 -settle 5s -timeout 30s
	row thread-read run thread-read -rate 300 -duration 40s -settle 5s -timeout 30s
	row thread-read-ceiling compare thread-read -rate 2000 -duration 20s -settle 5s
	row fanout run fanout -watchers 10000 -duration 30s -settle 5s -timeout 30s
	row thread-live live -duration 30s -settle 10s
	echo "every report is in $out"
	return "$status"
}

case "${1:-}" in
setup) setup ;;
table) table ;;
bare)
	shift
	bare "$@"
	;;
run)
	shift
	run "$@"
	;;
live)
	shift
	live "$@"
	;;
compare)
	shift
	compare "$@"
	;;
*)
	echo "usage: $0 setup | run SCENARIO [loadgen flags] | live [loadgen flags] | compare reply|thread-read|push [loadgen flags] | bare idle|broadcast [loadgen flags] | table" >&2
	exit 2
	;;
esac
