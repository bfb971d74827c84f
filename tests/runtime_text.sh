#!/usr/bin/env bash
# tests/runtime_text.sh BUILD_DIR PROGRAM
# Asynchronous preemption (sched/src/preempt.c) refuses every instruction in
# the section toc_runtime_text, to which the build renames the .text of the
# runtime's archives (CMakeLists.txt). Checks, so that it cannot rot:
#   1. in every member of the runtime's archives the only code section is
#      toc_runtime_text: no .text, .text.unlikely, .text.startup, .text.hot;
#   2. in PROGRAM, linked against them, every function the archives define
#      lies in its section toc_runtime_text (whose bounds the linker gives
#      the runtime as __start_toc_runtime_text and __stop_toc_runtime_text),
#      and that section and .text do not overlap;
#   3. PROGRAM records the write barrier's ranges (section toc_nopreempt).
set -euo pipefail
build=$1 prog=$2
fail() {
	echo "runtime_text: $*" >&2
	exit 1
}

# Code sections of an ELF file or archive, as "member section" lines.
code_sections() {
	readelf -SW "$1" | awk '
		/^File: / { f = $2 }
		/^ *\[ *[0-9]+\] / {
			sub(/^ *\[ *[0-9]+\] /, "")
			if (NF == 10 && $7 ~ /X/) print f, $1
		}'
}

archives=(libtoc.a gc/libtoc_gc.a sched/libtoc_sched.a)
for a in "${archives[@]}"; do
	lib=$build/$a
	[ -f "$lib" ] || fail "$lib is missing"
	members=$(code_sections "$lib")
	[ -n "$members" ] || fail "$lib: no code section at all"
	stray=$(grep -v ' toc_runtime_text$' <<<"$members" || true)
	[ -z "$stray" ] || fail "runtime code outside toc_runtime_text:"$'\n'"$stray"
	echo "$a: $(wc -l <<<"$members") code sections, all toc_runtime_text"
done

[ -x "$prog" ] || fail "$prog is missing"
# Output sections as "name address size" (hex).
sections=$(readelf -SW "$prog" | sed -E 's/^ *\[ *[0-9]+\] //' | awk 'NF >= 6 { print $1, $3, $5 }')
read -r lo rsize < <(awk '$1 == "toc_runtime_text" { print $2, $3 }' <<<"$sections")
read -r tlo tsize < <(awk '$1 == ".text" { print $2, $3 }' <<<"$sections")
[ -n "${lo:-}" ] || fail "$prog: no toc_runtime_text section"
[ -n "${tlo:-}" ] || fail "$prog: no .text"
# Addresses as 16 hex digits compare as strings (mawk reads no hex).
hex16() { printf '%016x' "$((16#$1))"; }
hi=$(printf '%016x' "$((16#$lo + 16#$rsize))") lo=$(hex16 "$lo")
thi=$(printf '%016x' "$((16#$tlo + 16#$tsize))") tlo=$(hex16 "$tlo")
[[ $lo < $thi && $tlo < $hi ]] && fail "toc_runtime_text [$lo, $hi) overlaps .text [$tlo, $thi)"
# Every global function of the runtime, where the program placed it.
fns=$(mktemp)
trap 'rm -f "$fns"' EXIT
nm -P --defined-only "$build/libtoc.a" 2>/dev/null | awk '$2 == "T" { print $1 }' | sort -u >"$fns"
out=$(nm -P "$prog" | awk -v lo="$lo" -v hi="$hi" '
	BEGIN {
		while ((getline f < ARGV[1]) > 0) want[f] = 1
		delete ARGV[1]
	}
	($2 == "T" || $2 == "t") && ($1 in want) {
		a = sprintf("%16s", $3)
		gsub(/ /, "0", a)
		n++
		if (a < lo || a >= hi) print "outside: " $1
	}
	END { print "checked " n + 0 }' "$fns" -)
if grep -q '^outside' <<<"$out"; then
	fail "runtime functions outside toc_runtime_text:"$'\n'"$(grep '^outside' <<<"$out" | head -20)"
fi
echo "$(basename "$prog"): $(sed -n 's/^checked //p' <<<"$out") runtime functions inside toc_runtime_text, none in .text"
grep -q '^toc_nopreempt ' <<<"$sections" || fail "$prog: no toc_nopreempt section (the barrier's ranges)"
echo "runtime_text: passed"
