#!/bin/sh
# Runs C test binaries and tallies their "N passed, N failed" summary lines.
#   run.sh LABEL RESULTS BIN...   (RUNNER, if set, prefixes each command, e.g. valgrind)
# Appends "passed failed" per binary to RESULTS; exits non-zero if any binary
# failed or printed no summary.
label=$1 results=$2
shift 2
status=0
for bin in "$@"; do
  echo "--- $bin ($label)"
  out=$(mktemp)
  case $bin in */*) ;; *) bin=./$bin ;; esac
  $RUNNER "$bin" >"$out" 2>&1
  rc=$?
  cat "$out"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    echo "$bin ($label): no summary line (exit $rc)"
    echo "0 1" >>"$results"
    status=1
    continue
  fi
  set -- $line
  passed=$1 failed=$3
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "$bin ($label): exit status $rc"; fi
  echo "$passed $failed" >>"$results"
  [ "$failed" -eq 0 ] || status=1
done
exit $status
