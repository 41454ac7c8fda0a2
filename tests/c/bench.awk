# Joins "op ns" lines from the Rust runs (first file) and the C runs (second),
# keeping each side's best (lowest) value per op.
function keep(arr, op, v) { if (!(op in arr) || v < arr[op]) arr[op] = v }
FNR == NR { if (!($1 in rust)) ops[++n] = $1; keep(rust, $1, $2 + 0); next }
{ keep(c, $1, $2 + 0) }
END {
  printf "%-10s %12s %13s %10s\n", "op", "Rust ns/op", "C ABI ns/op", "FFI cost"
  for (i = 1; i <= n; i++) {
    op = ops[i]
    printf "%-10s %12.1f %13.1f %+10.1f\n", op, rust[op], c[op], c[op] - rust[op]
  }
}
