# shellcheck shell=bash
# Sourced by scripts/helm.sh and scripts/toxiproxy.sh: what they share to build a tool from the
# Go module proxy on first use. Defines functions only; go's output goes to stderr, so that the
# scripts' stdout stays the tool's path.

_go_build_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# go_find: make `go` usable, or return 1 (the caller says what it needed it for).
go_find() {
    # Go may be installed without being on PATH (its tarball's default place).
    [[ -n "$(command -v go)" ]] || PATH="$PATH:/usr/local/go/bin"
    command -v go >/dev/null 2>&1 || return 1
    # Go keeps its caches under $HOME; a bare environment (CI) may have none.
    if [[ -z "${HOME:-}" ]]; then
        export GOPATH="$_go_build_root/.cache/go" GOCACHE="$_go_build_root/.cache/go/build"
    fi
}

# go_install_into TARGET LDFLAGS PACKAGE@VERSION: `go install` the command PACKAGE into a
# temporary folder next to TARGET, then rename its binary to TARGET, so that concurrent builds
# never leave a half-written TARGET (the folder is removed when the script exits).
go_install_into() {
    local target="$1" ldflags="$2" package="$3" bin_dir tmp
    bin_dir="$(dirname "$target")"
    mkdir -p "$bin_dir"
    tmp="$(mktemp -d "$bin_dir/.build.XXXXXX")"
    # shellcheck disable=SC2064  # the folder's name, now
    trap "rm -rf $(printf %q "$tmp")" EXIT
    GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$package" >&2
    # go install names the binary after the package path's last element.
    local name="${package%@*}"
    mv -f "$tmp/${name##*/}" "$target"
}
