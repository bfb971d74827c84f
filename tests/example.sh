#!/usr/bin/env bash
# tests/example.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
# Installs the library from BUILD_DIR into a temporary prefix, builds
# docs/example/txn_example.c against it through pkg-config (toc.pc) alone,
# runs it in every mode and checks that the checksums agree and that toc
# mode reclaimed most window bytes: the workload guide's example never rots.
set -euo pipefail
build=$1 src=$2 extra=${3:-}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(dirname "$(find "$prefix" -name toc.pc | head -1)")
export PKG_CONFIG_PATH=$pc
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror $extra "$src/docs/example/txn_example.c" \
	$(pkg-config --cflags --libs toc) -o "$prefix/txn_example"
first=""
for mode in cms stw toc; do
	out=$(TOC_MODE=$mode "$prefix/txn_example")
	echo "$mode: $out"
	sums=$(sed -E 's/.*"checksum":([0-9]+),"kept":([0-9]+).*/\1 \2/' <<<"$out")
	[ -n "$first" ] || first=$sums
	[ "$sums" = "$first" ] || { echo "example: $mode's checksum and kept sum ($sums) differ from cms's ($first)" >&2; exit 1; }
	if [ $mode = toc ]; then
		grep -q '"toc":true' <<<"$out" || { echo "example: toc mode did not run the layer" >&2; exit 1; }
		frac=$(sed -E 's/.*"reclaimed_fraction":([0-9.]+).*/\1/' <<<"$out")
		awk -v f="$frac" 'BEGIN { exit !(f >= 0.5) }' ||
			{ echo "example: toc reclaimed only $frac of window bytes" >&2; exit 1; }
	fi
done
echo "example: the same result in every mode"
