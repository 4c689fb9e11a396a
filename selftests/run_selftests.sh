#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs forkscope's selftests inside the guest (busybox sh): every test binary
# in this directory, or those named, each with its TAP output and totals.
cd "$(dirname "$0")" || exit 1
tests="$*"
[ -n "$tests" ] || tests=$(ls | grep '_test$')
rc=0
for t in $tests; do
	echo "# selftest: $t"
	./"$t" || rc=1
done
exit $rc
