#!/usr/bin/env bash
# Print the path of the project's Toxiproxy server, building it from the Go module proxy on
# first use (the chaos suite's fault proxy between the gateway and Kafka, Redis, the vendor).
#
#   scripts/toxiproxy.sh      -> /…/.cache/tools/toxiproxy-v2.12.0/bin/toxiproxy-server
#
# Built as helm is (scripts/helm.sh; what they share is scripts/go-build.sh): `go install` from
# GOPROXY, cached per version under .cache/tools/ (git-ignored), built in a temporary folder
# renamed into place, so it is idempotent and safe to run concurrently. Progress goes to stderr;
# stdout is only the path.
set -euo pipefail

TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-v2.12.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.cache/tools/toxiproxy-$TOXIPROXY_VERSION/bin"
server="$bin_dir/toxiproxy-server"

if [[ ! -x "$server" ]]; then
    source "$root/scripts/go-build.sh"
    if ! go_find; then
        echo "scripts/toxiproxy.sh: 'go' is not on PATH nor in /usr/local/go/bin; it is needed" \
            "once to build Toxiproxy $TOXIPROXY_VERSION from the Go module proxy, or put a" \
            "toxiproxy-server $TOXIPROXY_VERSION binary at $server" >&2
        exit 1
    fi
    echo "scripts/toxiproxy.sh: building Toxiproxy $TOXIPROXY_VERSION with" \
        "$(go version | cut -d' ' -f3) (first time only)" >&2
    start=$SECONDS
    go_install_into "$server" "-s -w" \
        "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
    echo "scripts/toxiproxy.sh: built $server in $((SECONDS - start)) s" >&2
fi
echo "$server"
