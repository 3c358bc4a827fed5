# psyncd.sh -- sourced by the shell tests: a psyncd of their own on a
# temporary socket, stopped by its PID on exit.
#   psyncd_start BIN SOCK [ARGS...]   start it and wait until it answers
#   psyncd_stop                       SIGTERM it; fails if it exits non-zero
#   psyncd_dir                        a private temporary directory
psyncd_pid=
psyncd_tmp=$(mktemp -d /tmp/psync-sh.XXXXXX)
psyncd_dir=$psyncd_tmp

psyncd_cleanup() {
	[ -n "$psyncd_pid" ] && kill "$psyncd_pid" 2>/dev/null &&
	    wait "$psyncd_pid" 2>/dev/null
	rm -rf "$psyncd_tmp"
}
trap psyncd_cleanup 0 1 15

psyncd_start() {
	bin=$1
	sock=$2
	shift 2
	"$bin" --socket "$sock" "$@" 2>"$psyncd_tmp/psyncd.log" &
	psyncd_pid=$!
	i=0
	# Ready when it answers (a refusal is an answer too): the socket
	# file exists from bind(), before listen(), so it proves nothing.
	while ! echo '{"op":"ping"}' | socat -t 2 - UNIX-CONNECT:"$sock" \
	    2>/dev/null | grep -q '^{"ok":'; do
		i=$((i + 1))
		if [ $i -ge 500 ]; then
			echo "psyncd did not start:"; cat "$psyncd_tmp/psyncd.log"
			return 1
		fi
		if ! kill -0 "$psyncd_pid" 2>/dev/null; then
			echo "psyncd exited at startup:"; cat "$psyncd_tmp/psyncd.log"
			return 1
		fi
		sleep 0.01	# polling for a reply, bounded above
	done
}

psyncd_stop() {
	kill "$psyncd_pid"
	rc=0
	wait "$psyncd_pid" || rc=$?
	psyncd_pid=
	return $rc
}
