#!/usr/bin/env bash
# Installs what mcgw needs on a fresh Debian machine and builds the cached control-plane binaries,
# helm and the container images (scripts/build-all.sh runs the three builds in parallel).
# Safe to run repeatedly: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="$PATH:/usr/local/go/bin"; fi

# Debian packages the tests and the lab use. Installed only when a tool is missing.
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
command -v nft >/dev/null || need+=(nftables)
[[ -x /usr/lib/frr/bfdd ]] || need+=(frr)
# containerd (with runc): the image test imports the built images and runs them with ctr, and
# kubelet Nodes run on it; their pods get addresses from Debian's CNI plugins (bridge, host-local).
command -v containerd >/dev/null || need+=(containerd)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || need+=(containernetworking-plugins)
# nsenter and unshare start a kubelet Node in its own namespaces.
command -v unshare >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then log "error: missing ${need[*]}; run as root or install them"; exit 1; fi
  log "installing Debian packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# The control-plane binaries, helm and (as root) the container images, built side by side; each
# is cached, so a re-run only checks. Arguments name a subset (e.g. `setup.sh build-control-plane`
# for `npm run local`, which runs no image).
bash scripts/build-all.sh "$@"
