# workloads/lib/setup.sh — shared by tests/run and workloads/bench (sourced).
#
# toc_ensure_packages PKG...   installs the Debian packages that are missing
#                              (apt-get update once per run, only if needed)
# toc_configure_build DIR TYPE [cmake args...]
#                              configures and builds one variety into DIR

toc_log() { printf '%s: %s\n' "${TOC_PROG:-toc}" "$*" >&2; }

toc_ensure_packages() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	toc_log "installing missing Debian packages: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	if [ -z "${TOC_APT_UPDATED:-}" ]; then
		$sudo apt-get update -q >&2 || { toc_log "apt-get update failed"; return 1; }
		export TOC_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >&2 ||
		{ toc_log "apt-get install ${missing[*]} failed"; return 1; }
}

# The packages every build needs.
TOC_BUILD_PACKAGES=(build-essential cmake pkg-config libcunit1-dev liburcu-dev libnuma-dev libgc-dev valgrind)

toc_configure_build() {
	local dir=$1 type=$2
	shift 2
	toc_log "configuring $type build in $dir"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >"$dir.configure.log" 2>&1 ||
		{ cat "$dir.configure.log" >&2; toc_log "cmake configure failed"; return 1; }
	toc_log "building $type"
	cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 ||
		{ tail -50 "$dir.build.log" >&2; toc_log "build failed (full log: $dir.build.log)"; return 1; }
	if grep -q 'warning:' "$dir.build.log"; then
		grep 'warning:' "$dir.build.log" >&2
		toc_log "the build has warnings (the project is -Wall -Wextra clean)"
		return 1
	fi
}
