#!/usr/bin/env bash
# Builds kube-apiserver and etcd from pinned Go modules and caches them outside the repo.
# Output: $MCGW_CACHE/bin/<version-key>/{kube-apiserver,etcd}. Prints that directory on stdout's
# last line. Progress goes to stderr. Re-running is a no-op while the cached binaries exist.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.13}"
CACHE="${MCGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcgw}"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_$(go env GOOS)-$(go env GOARCH)"
OUT="$CACHE/bin/$KEY"

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

if [[ -x "$OUT/kube-apiserver" && -x "$OUT/etcd" ]]; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "error: the go toolchain is required (https://go.dev) and was not found on PATH"; exit 1; }
mkdir -p "$OUT"
WORK="$CACHE/src/$KEY"
mkdir -p "$WORK/apiserver" "$WORK/etcd"
export GOFLAGS="-mod=mod" CGO_ENABLED=0

# Counts the packages `go build -v` reports so a long build shows that it is moving.
progress() {
  local what=$1 n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if (( n % 100 == 0 )); then log "$what: $n packages compiled"; fi
    case "$line" in *error*|*cannot*|*undefined*) printf '%s\n' "$line" >&2 ;; esac
  done
  log "$what: $n packages compiled in total"
}

build_etcd() {
  if [[ -x "$OUT/etcd" ]]; then return; fi
  log "etcd $ETCD_VERSION: resolving modules"
  cd "$WORK/etcd"
  cat > main.go <<'GO'
// A thin main around etcd's own entry point, so etcd builds from its Go module alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  [[ -f go.mod ]] || go mod init mcgw.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  log "etcd $ETCD_VERSION: compiling"
  go build -v -trimpath -o "$OUT/etcd.tmp" . 2>&1 | progress etcd
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

build_apiserver() {
  if [[ -x "$OUT/kube-apiserver" ]]; then return; fi
  log "kube-apiserver $K8S_VERSION: resolving modules"
  cd "$WORK/apiserver"
  local staging="v0${K8S_VERSION#v1}"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  local modfile
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  {
    echo "module mcgw.local/apiserver"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # k8s.io/kubernetes points its staging modules at ./staging; outside its repo they must
    # point at the published module of the matching version instead.
    grep -Eo '^\s*k8s\.io/[a-z0-9./-]+ => \./staging/src/k8s\.io/[a-z0-9./-]+' "$modfile" \
      | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2
  log "kube-apiserver $K8S_VERSION: compiling (several minutes on 2 cores)"
  go build -v -trimpath -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver 2>&1 | progress kube-apiserver
  mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
}

build_etcd
build_apiserver
log "done: $OUT"
echo "$OUT"
