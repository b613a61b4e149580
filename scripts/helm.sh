#!/usr/bin/env bash
# Print the path of the project's helm, building it from the Go module proxy on first use.
#
#   scripts/helm.sh            -> /…/.cache/tools/helm-v3.22.0/bin/helm
#   "$(scripts/helm.sh)" lint deploy/helm/gateway
#
# helm is not downloaded as a release binary: `go install helm.sh/helm/v3/cmd/helm@VERSION`
# builds it from source fetched through GOPROXY, so a machine that reaches only package
# registries can still lint and render the chart. The binary is cached under .cache/tools/
# (git-ignored) per version, so bumping HELM_VERSION builds the new one next to the old.
# Idempotent and safe to run concurrently: the build goes to a temporary folder that is then
# renamed into place. Progress goes to stderr; stdout is only the path.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$root/.cache/tools/helm-$HELM_VERSION/bin"
helm="$bin_dir/helm"

if [[ ! -x "$helm" ]]; then
    source "$root/scripts/go-build.sh"
    if ! go_find; then
        echo "scripts/helm.sh: 'go' is not on PATH nor in /usr/local/go/bin; it is needed once" \
            "to build helm $HELM_VERSION from the Go module proxy (helm $HELM_VERSION needs" \
            "Go >= 1.26), or put a helm $HELM_VERSION binary at $helm" >&2
        exit 1
    fi
    echo "scripts/helm.sh: building helm $HELM_VERSION with $(go version | cut -d' ' -f3)" \
        "(first time only; a few minutes on 2 cores)" >&2
    start=$SECONDS
    # helm's own Makefile stamps the Kubernetes version it assumes when no cluster is asked
    # (helm template, helm lint: .Capabilities.KubeVersion) from the client-go it builds
    # with; without it that default is v1.20 and charts needing newer Kubernetes fail.
    gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
        | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    client_go="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -n1)"
    [[ -n "$client_go" ]] || { echo "scripts/helm.sh: no k8s.io/client-go in $gomod" >&2; exit 1; }
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    for pkg in pkg/lint/rules pkg/chartutil; do
        ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1"
        ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$client_go"
    done
    go_install_into "$helm" "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "scripts/helm.sh: built $helm in $((SECONDS - start)) s" >&2
fi
echo "$helm"
