#!/usr/bin/env bash
# Builds the helm CLI from its pinned Go module and caches it outside the repo.
# Output: $MCGW_CACHE/bin/helm-<version>/helm. Prints that file's path on stdout's last line.
# Progress goes to stderr. Re-running is a no-op while the cached binary exists.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
CACHE="${MCGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcgw}"
OUT="$CACHE/bin/helm-$HELM_VERSION"
BIN="$OUT/helm"

log() { printf '[build-helm] %s\n' "$*" >&2; }

if [[ -x "$BIN" ]]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

# Go is often installed outside PATH on fresh machines.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; fi
command -v go >/dev/null || { log "error: the go toolchain is required (https://go.dev) and was not found on PATH"; exit 1; }

started=$SECONDS
mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS="-mod=mod"

# Counts the packages `go install -v` reports so a long build shows that it is moving.
progress() {
  local n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if (( n % 100 == 0 )); then log "helm: $n packages compiled"; fi
    case "$line" in *error*|*cannot*|*undefined*) printf '%s\n' "$line" >&2 ;; esac
  done
  log "helm: $n packages compiled in total"
}

log "helm $HELM_VERSION: resolving modules"
go mod download -json "helm.sh/helm/v3@$HELM_VERSION" >/dev/null
modfile="$(go env GOMODCACHE)/cache/download/helm.sh/helm/v3/@v/$HELM_VERSION.mod"

# The same version stamps helm's Makefile sets: without them `helm version` says "v3.19" and
# `helm template` assumes Kubernetes v1.20 for .Capabilities.KubeVersion and kubeVersion checks.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$modfile")"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
[[ -n "$k8s_minor" ]] || { log "error: could not read the k8s.io/client-go version from $modfile"; exit 1; }
ldflags="-w -s"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

log "helm $HELM_VERSION: compiling (a few minutes on 2 cores)"
# go install builds the module with its own go.mod, exactly as released; GOBIN is a scratch dir so a
# half-written binary never sits at the cached path.
tmp="$OUT/.build"
rm -rf "$tmp"
mkdir -p "$tmp"
set +e
GOBIN="$tmp" go install -v -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" 2>&1 | progress
status=${PIPESTATUS[0]}
set -e
if (( status != 0 )) || [[ ! -x "$tmp/helm" ]]; then
  log "error: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed (exit $status)"
  exit 1
fi
mv "$tmp/helm" "$BIN"
rm -rf "$tmp"
log "helm $HELM_VERSION: $("$BIN" version --short) built in $((SECONDS - started)) s"
log "done: $BIN"
echo "$BIN"
