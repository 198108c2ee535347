#!/usr/bin/env bash
# Builds etcd and the Kubernetes binaries a lab cluster runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy) from pinned Go modules and caches them outside
# the repo. The Kubernetes binaries carry their real version (component-base's ldflags, as the
# release build sets them), so Nodes and `kubectl version` show v1.34.4, not v0.0.0-master.
# Output: $MCGW_CACHE/bin/<version-key>/{etcd,kube-apiserver,kube-controller-manager,
# kube-scheduler,kubelet,kube-proxy}. Prints that directory on stdout's last line. Progress goes to stderr.
# Re-running is a no-op while the cached binaries exist.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.13}"
CACHE="${MCGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcgw}"
# The recipe's own revision is part of the key: a change in how the binaries are built (which ones,
# which flags) must not be hidden by an older cache of the same versions.
RECIPE=2
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_$(go env GOOS)-$(go env GOARCH)_r${RECIPE}"
OUT="$CACHE/bin/$KEY"

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

complete() {
  local b
  for b in etcd "${KUBE_BINS[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done
}

if complete; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "error: the go toolchain is required (https://go.dev) and was not found on PATH"; exit 1; }
mkdir -p "$OUT"
WORK="$CACHE/src/$KEY"
mkdir -p "$WORK/kubernetes" "$WORK/etcd"
export GOFLAGS="-mod=mod" CGO_ENABLED=0

# Counts the packages `go build -v` reports so a long build shows that it is moving.
progress() {
  local what=$1 n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if (( n % 100 == 0 )); then log "$what: $n packages compiled"; fi
    # Compiler messages name a file:line; package paths (which may contain "errors") do not.
    case "$line" in *.go:[0-9]*|"# "*|*cannot*|go:\ *) printf '%s\n' "$line" >&2 ;; esac
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

build_kubernetes() {
  local missing=() b
  for b in "${KUBE_BINS[@]}"; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
  ((${#missing[@]})) || return 0
  log "kubernetes $K8S_VERSION: resolving modules"
  cd "$WORK/kubernetes"
  local staging="v0${K8S_VERSION#v1}"
  # -json puts a failure's reason on stdout, as an "Error" field.
  local fetched
  if ! fetched="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION")"; then
    log "error: could not download k8s.io/kubernetes@$K8S_VERSION: $(printf '%s\n' "$fetched" | sed -n 's/^\s*"Error": "\(.*\)",\?$/\1/p')"
    exit 1
  fi
  local dl modfile
  dl="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v"
  modfile="$dl/$K8S_VERSION.mod"
  {
    echo "module mcgw.local/kubernetes"
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
  local pkgs=()
  for b in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  go get "${pkgs[@]/%/@$K8S_VERSION}" >&2

  # The variables hack/lib/version.sh sets for a release build. The module proxy does not know the
  # git commit; the build date is the release's (the module's publication time), so a rebuild of the
  # same version is the same binary.
  local when major minor ldflags="-s -w" key val
  when="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$dl/$K8S_VERSION.info")"
  major="${K8S_VERSION#v}"; major="${major%%.*}"
  minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
  for kv in "gitVersion=$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=archive" \
    "buildDate=${when:-1970-01-01T00:00:00Z}"; do
    key="${kv%%=*}"; val="${kv#*=}"
    ldflags+=" -X k8s.io/component-base/version.$key=$val -X k8s.io/client-go/pkg/version.$key=$val"
  done

  log "kubernetes $K8S_VERSION: compiling ${missing[*]} (about 15 minutes on 2 cores from cold)"
  local tmp="$OUT/.build"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  set +e
  go build -v -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}" 2>&1 | progress kubernetes
  local status=${PIPESTATUS[0]}
  set -e
  for b in "${missing[@]}"; do
    if (( status != 0 )) || [[ ! -x "$tmp/$b" ]]; then
      log "error: building $b (k8s.io/kubernetes/cmd/$b@$K8S_VERSION) failed (go build exit $status)"
      exit 1
    fi
  done
  for b in "${missing[@]}"; do mv "$tmp/$b" "$OUT/$b"; done
  rm -rf "$tmp"
  log "kubernetes: $("$OUT/kube-apiserver" --version)"
}

build_etcd
build_kubernetes
log "done: $OUT"
echo "$OUT"
