#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of scripts/kselftests (busybox sh, inside scripts/vm): run the
# kernel's process-creation kselftests without, then with forkscope loaded.
#
# /opt/kselftests/tests.list has one "SUITE BINARY TIMEOUT SYSCTL [ARGS...]"
# per line (SYSCTL: NAME=VALUE set for that binary only, or -); the binaries
# are in /opt/kselftests/SUITE/. Each binary's output is printed between
# "@@KSFT-BEGIN PASS SUITE/BINARY" and "@@KSFT-END PASS SUITE/BINARY rc=RC
# secs=S limit=TIMEOUT" lines (runs of identical lines collapsed), which
# scripts/kselftests parses.
KS=${KSFT_DIR:-/opt/kselftests}
KO=/opt/forkscope/forkscope.ko
D=/sys/kernel/debug/forkscope
WORK=/tmp/ksft

die() {
	echo "kselftests-guest: $*"
	exit 10
}

[ -r "$KS/tests.list" ] || die "$KS/tests.list missing"
[ -r "$KO" ] || die "$KO missing"

# What the selftests expect of a normal system and the initramfs lacks:
# /dev/fd (execveat runs scripts as /dev/fd/N), and a /bin/true that is not a
# busybox applet link (exec/non-regular execs a symlink to it under another
# name, which busybox would reject as "applet not found").
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
if [ -x "$KS/bin/true" ]; then
	rm -f /bin/true && cp "$KS/bin/true" /bin/true
fi

# Print a file, collapsing runs of identical lines (pidfd_test prints one per
# fork), and end with a newline even if the binary did not.
show() {
	awk 'function flush() { if (n > 1) print "# [previous line repeated " n - 1 " more times]" }
	$0 == last && NR > 1 { n++; next }
	{ flush(); print; last = $0; n = 1 }
	END { flush() }' "$1"
}

# run_pass NAME: run every listed binary once, from a fresh copy of its suite
# directory (execveat and others create files in their working directory).
run_pass() {
	pass=$1
	rm -rf "$WORK"
	mkdir -p "$WORK" || die "cannot create $WORK"
	t0=$(date +%s)
	while read -r suite bin limit sysctl args; do
		case $suite in '' | '#'*) continue ;; esac
		old=
		if [ "$sysctl" != - ]; then
			old=${sysctl%%=*}=$(sysctl -n "${sysctl%%=*}")
			sysctl -q -w "$sysctl" || die "sysctl -w $sysctl failed"
		fi
		if [ ! -d "$WORK/$suite" ]; then
			cp -a "$KS/$suite" "$WORK/$suite" || die "cannot copy $KS/$suite"
		fi
		out=$WORK/$suite.$bin.out
		start=$(date +%s)
		# A subshell keeps the cd local; args is split on purpose.
		# shellcheck disable=SC2086
		(cd "$WORK/$suite" && exec timeout -k 10 "$limit" "./$bin" $args) \
			>"$out" 2>&1 </dev/null
		rc=$?
		secs=$(($(date +%s) - start))
		[ -z "$old" ] || sysctl -q -w "$old" || die "sysctl -w $old failed"
		echo "@@KSFT-BEGIN $pass $suite/$bin"
		show "$out"
		echo "@@KSFT-END $pass $suite/$bin rc=$rc secs=$secs limit=$limit"
	done <"$KS/tests.list"
	echo "@@KSFT-PASS $pass secs=$(($(date +%s) - t0))"
	cd / && rm -rf "$WORK"
}

echo "@@KSFT-INFO kernel=$(uname -r) cpus=$(nproc)"
lsmod | grep -q '^forkscope ' && die "forkscope is already loaded before the first pass"

run_pass without

insmod "$KO" || die "insmod $KO failed"
[ -d "$D" ] || die "$D missing after insmod"
echo "@@KSFT-FORKSCOPE loaded: $(grep -E '^(enabled|creations) ' "$D/counters" | tr '\n' ' ')"

run_pass with

echo "@@KSFT-FORKSCOPE-BEGIN"
echo "== $D/counters"
cat "$D/counters"
echo "== $D/verdicts"
cat "$D/verdicts"
echo "@@KSFT-FORKSCOPE-END"
rmmod forkscope || die "rmmod forkscope failed"
[ ! -e "$D" ] || die "$D still exists after rmmod"
echo "@@KSFT-DONE"
exit 0
