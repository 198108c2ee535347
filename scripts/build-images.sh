#!/usr/bin/env bash
# Builds mcgw's container image from the repository's own Dockerfile without a Docker engine
# (buildah), and the sandbox (pause) image a Node's containerd needs, without pulling any image:
#   - the base images are made here from Debian packages (mmdebstrap: Debian's nodejs, plus a
#     layer with Debian's npm for the build stages) and cached: re-made only when the suite or this
#     recipe changes, or when MCGW_REFRESH_BASE=1 asks for Debian's latest packages;
#   - the pause image is compiled from build/pause/linux/pause.c of the pinned k8s.io/kubernetes
#     module and built with that module's own build/pause/Dockerfile; cached per Kubernetes version;
#   - the mcgw image is built from ./Dockerfile with the work tree as context (.dockerignore lets
#     only the build inputs through), every run, with buildah's layer cache.
# Output: $MCGW_CACHE/images/{mcgw.tar,pause.tar} (OCI archives, for `ctr images import`) and
# images.json beside them (each image's reference, ID, archive and sizes). Prints that directory on
# stdout's last line. Progress goes to stderr; the tools' own output to images/build.log, whose tail
# is shown when a step fails. Needs root (buildah's store, mmdebstrap's chroot); installs buildah,
# mmdebstrap and gcc from Debian when they are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
SUITE="${MCGW_BASE_SUITE:-trixie}"
MIRROR="${MCGW_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${MCGW_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE="${MCGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcgw}"
# The recipes' revisions are part of the cache keys: a change in how an image is made must not be
# hidden by an older image of the same versions.
BASE_RECIPE=3
PAUSE_RECIPE=1
# The Dockerfile's default base is node:20; package.json wants node >= 20.
NODE_MIN_MAJOR=20

OUT="$CACHE/images"
LOG="$OUT/build.log"
# buildah's own image store, kept with mcgw's other caches rather than in /var/lib/containers:
# removing ~/.cache/mcgw removes it too. Its run state belongs in /run, which a reboot clears; one
# directory per store, as two stores must not share it.
STORE="$CACHE/containers/storage"
runroot() { printf '/run/mcgw-buildah/%s' "$(printf '%s' "$1" | sha256sum | cut -c1-12)"; }

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$OUT"
: >"$LOG"

# Runs a command with its output in the log; when it fails, says which step failed and shows the
# log's tail, so the cause is on the terminal without the tools' chatter on success.
step() {
  local what=$1
  shift
  printf '\n== %s: %s\n' "$what" "$*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    log "error: $what failed; the last lines of $LOG:"
    tail -n 30 "$LOG" | sed 's/^/  | /' >&2
    exit 1
  fi
}

[[ $(id -u) -eq 0 ]] || die "needs root: buildah's image store and mmdebstrap's chroot are made as root"

# Installs Debian packages, quietly (apt's output goes to the log).
apt_updated=
apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z $apt_updated ]] && ! apt-get update -qq >>"$LOG" 2>&1; then
    tail -n 10 "$LOG" | sed 's/^/  | /' >&2
    die "$* not installed, and apt-get update failed"
  fi
  apt_updated=1
  if ! apt-get install -y -qq "$@" >>"$LOG" 2>&1; then
    tail -n 10 "$LOG" | sed 's/^/  | /' >&2
    die "$* not installed, and apt-get install failed"
  fi
}

# Installs the Debian packages of the commands that are missing: install_for cmd:package ...
install_for() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  ((${#missing[@]})) || return 0
  apt_install "${missing[@]}"
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || die "${pair%%:*} is still missing after installing ${pair#*:}"
  done
}

install_for buildah:buildah runc:runc

# overlay shares layers between images; where the kernel or the filesystem under the cache cannot
# stack it (some container sandboxes), vfs works anywhere but stores a full copy of every layer.
DRIVER=overlay
if ! buildah --root "$STORE" --runroot "$(runroot "$STORE")" --storage-driver overlay info >>"$LOG" 2>&1; then
  DRIVER=vfs
  STORE="$CACHE/containers/storage-vfs"
  log "overlay storage does not work here; using vfs (slower, and each layer is a full copy)"
fi
RUNROOT="$(runroot "$STORE")"
bah() { buildah --root "$STORE" --runroot "$RUNROOT" --storage-driver "$DRIVER" "$@"; }

# A label of an image in the store, or nothing when the image is not there.
image_label() {
  bah inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

case "$(uname -m)" in
  x86_64) ARCH=amd64 ;;
  aarch64) ARCH=arm64 ;;
  *) die "no image recipe for the machine architecture $(uname -m)" ;;
esac

# --- The base images: Debian's nodejs, and the same with Debian's npm ----------------------------

BASE_KEY="debian-$SUITE-r$BASE_RECIPE"
BASE_REF="localhost/mcgw/node:$SUITE-r$BASE_RECIPE"
BUILD_BASE_REF="localhost/mcgw/node:$SUITE-npm-r$BASE_RECIPE"

work_ctr=
tmp_files=()
cleanup() {
  if [[ -n $work_ctr ]]; then bah rm "$work_ctr" >/dev/null 2>&1 || true; fi
  if ((${#tmp_files[@]})); then rm -rf "${tmp_files[@]}"; fi
}
trap cleanup EXIT
# Stopped by a signal (an interrupt, which build-all.sh passes on to the whole build), bash would
# skip the EXIT trap and leave the working container and the temporary files behind. HUP too: when
# writing its tarball fails, mmdebstrap sends it to its whole process group, this script included.
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

make_base() {
  install_for mmdebstrap:mmdebstrap
  log "base: Debian $SUITE with nodejs (mmdebstrap; a few minutes)"
  local tar="$OUT/.rootfs-$$.tar" aptconf="$OUT/.apt-$$.conf"
  tmp_files+=("$tar" "$aptconf")
  printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
    'APT::Keep-Downloaded-Packages "false";' >"$aptconf"
  # Like the official Debian images: no manuals, translations or docs (copyright files stay), and
  # apt keeps no package caches (pkgcache.bin and srcpkgcache.bin, some 100 MB after an apt-get
  # update). These rules stay in the image's dpkg and apt config, so the Dockerfile's
  # `apt-get update && apt-get install` leaves none of it in its layer either.
  # The user node (1000) is the official node image's, which the Dockerfile's USER 1000:1000 means.
  step "mmdebstrap (Debian $SUITE from $MIRROR)" mmdebstrap --variant=minbase \
    --include=nodejs,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="upload $aptconf /etc/apt/apt.conf.d/90mcgw-no-caches" \
    --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
    --customize-hook='chroot "$1" useradd --uid 1000 --user-group --create-home --shell /bin/bash node' \
    --skip=output/dev \
    "$SUITE" "$tar" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main"
  local nodejs
  # awk reads to the end: were it to stop at the match, tar could die of SIGPIPE, and pipefail
  # would fail the build (it did, once, under load).
  nodejs="$(tar -xOf "$tar" ./var/lib/dpkg/status | awk '/^Package: /{p=($2=="nodejs")} p&&/^Version: /{v=$2} END{print v}')"
  [[ -n $nodejs ]] || die "the Debian $SUITE root has no nodejs package"
  local major="${nodejs%%.*}"
  major="${major#*:}"
  ((major >= NODE_MIN_MAJOR)) || die "Debian $SUITE has nodejs $nodejs; mcgw needs $NODE_MIN_MAJOR or newer (set MCGW_BASE_SUITE)"

  work_ctr="$(bah from --quiet --pull=never scratch)"
  step "adding the Debian root to the base image" bah add "$work_ctr" "$tar" /
  step "configuring the base image" bah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["node"]' \
    --label io.mcgw.recipe="$BASE_KEY" --label io.mcgw.nodejs="$nodejs" \
    --label org.opencontainers.image.description="Debian $SUITE (minbase) with nodejs $nodejs" \
    "$work_ctr"
  step "committing $BASE_REF" bah commit --quiet --rm "$work_ctr" "$BASE_REF"
  work_ctr=
  rm -f "$tar" "$aptconf"
  log "base: $BASE_REF (nodejs $nodejs)"
}

# The build stages download the npm packages over TLS, with the CAs this machine trusts: a host
# behind a TLS-inspecting proxy trusts that proxy's CA, and npm in the build must too. Node reads
# extra CAs from NODE_EXTRA_CA_CERTS (Debian's nodejs does not use the system store). Only the build
# base carries them; the final stage starts from the plain base.
HOST_CA=/etc/ssl/certs/ca-certificates.crt
[[ -f $HOST_CA ]] || die "$HOST_CA is missing: install ca-certificates"
BUILD_BASE_KEY="$BASE_KEY-npm-ca-$(sha256sum "$HOST_CA" | cut -c1-12)"

make_build_base() {
  log "base: $BUILD_BASE_REF adds Debian's npm (a few minutes)"
  work_ctr="$(bah from --quiet --pull=never "$BASE_REF")"
  step "installing npm in the build base" bah run --network host "$work_ctr" -- sh -c \
    'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*'
  step "adding this machine's CAs to the build base" \
    bah copy "$work_ctr" "$HOST_CA" /usr/local/share/mcgw/host-ca-certificates.crt
  step "configuring the build base" bah config --label io.mcgw.recipe="$BUILD_BASE_KEY" \
    --env NODE_EXTRA_CA_CERTS=/usr/local/share/mcgw/host-ca-certificates.crt "$work_ctr"
  step "committing $BUILD_BASE_REF" bah commit --quiet --rm "$work_ctr" "$BUILD_BASE_REF"
  work_ctr=
}

# A new base makes the former ones (other suites or recipes) and the images built on them, and
# buildah's layer cache for those, useless: removing them keeps the store from growing by a few
# hundred MB each time.
prune() {
  local old=()
  mapfile -t old < <(bah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/mcgw/node:' \
    | grep -vxF -e "$BASE_REF" -e "$BUILD_BASE_REF")
  printf '\n== pruning former bases (%s) and untagged images\n' "${old[*]}" >>"$LOG"
  { if ((${#old[@]})); then bah rmi "${old[@]}"; fi && bah rmi --prune; } >>"$LOG" 2>&1 \
    || log "note: could not remove the images of the former base (see $LOG)"
}
if [[ ${MCGW_REFRESH_BASE:-} == 1 || $(image_label "$BASE_REF" io.mcgw.recipe) != "$BASE_KEY" ]]; then
  make_base
  make_build_base
  prune
elif [[ $(image_label "$BUILD_BASE_REF" io.mcgw.recipe) != "$BUILD_BASE_KEY" ]]; then
  make_build_base
  prune
else
  log "base: cached $BASE_REF (nodejs $(image_label "$BASE_REF" io.mcgw.nodejs))"
fi
NODEJS_VERSION="$(image_label "$BASE_REF" io.mcgw.nodejs)"

# --- The pause image, from the pinned Kubernetes module -----------------------------------------

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; fi
command -v go >/dev/null || die "the go toolchain is required (to fetch k8s.io/kubernetes@$K8S_VERSION for pause.c) and was not found on PATH"
step "go mod download k8s.io/kubernetes@$K8S_VERSION" go mod download "k8s.io/kubernetes@$K8S_VERSION"
K8S_DIR="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
PAUSE_SRC="$K8S_DIR/build/pause"
[[ -f $PAUSE_SRC/linux/pause.c && -f $PAUSE_SRC/Dockerfile ]] \
  || die "k8s.io/kubernetes@$K8S_VERSION has no build/pause/linux/pause.c or build/pause/Dockerfile (looked in $PAUSE_SRC)"
# The tag the module's own Makefile gives the image (and kubeadm's constants name for this release).
PAUSE_TAG="$(sed -n 's/^TAG ?= \(.*\)$/\1/p' "$PAUSE_SRC/Makefile")"
[[ -n $PAUSE_TAG ]] || die "could not read the pause image's TAG from $PAUSE_SRC/Makefile"
PAUSE_REF="localhost/mcgw/pause:$PAUSE_TAG"
PAUSE_KEY="k8s-$K8S_VERSION-pause-$PAUSE_TAG-$ARCH-r$PAUSE_RECIPE"

if [[ $(image_label "$PAUSE_REF" io.mcgw.recipe) == "$PAUSE_KEY" ]]; then
  log "pause: cached $PAUSE_REF"
else
  install_for gcc:gcc
  # A static binary needs glibc's static libraries.
  [[ $(gcc -print-file-name=libc.a) == /* ]] || apt_install libc6-dev
  log "pause: compiling pause.c of k8s.io/kubernetes@$K8S_VERSION"
  ctx="$(mktemp -d "$OUT/.pause.XXXXXX")"
  tmp_files+=("$ctx")
  mkdir -p "$ctx/bin"
  # The flags of the module's Makefile; the version names the module the source came from.
  step "gcc pause.c" gcc -Os -Wall -Werror -static "-DVERSION=v$PAUSE_TAG-$K8S_VERSION" \
    -o "$ctx/bin/pause-linux-$ARCH" "$PAUSE_SRC/linux/pause.c"
  step "building $PAUSE_REF (build/pause/Dockerfile)" bah build --quiet --pull=never \
    -f "$PAUSE_SRC/Dockerfile" --build-arg BASE=scratch --build-arg "ARCH=$ARCH" \
    --label io.mcgw.recipe="$PAUSE_KEY" -t "$PAUSE_REF" "$ctx"
  log "pause: $PAUSE_REF"
fi

# --- The mcgw image, from the repository's Dockerfile --------------------------------------------

VERSION="$(node -p "require(process.argv[1]).version" "$ROOT/package.json")" \
  || die "could not read the version from $ROOT/package.json"
MCGW_REF="localhost/mcgw/mcgw:$VERSION"
log "mcgw: building $MCGW_REF from $ROOT/Dockerfile"
started=$SECONDS
# --network host: the RUN steps reach the npm registry and Debian without a CNI setup.
# --pull=never: the bases are local; a missing one must fail, not be looked for in a registry.
# --force-rm: a failed step's container is removed too, not left to hold its image.
step "buildah build of $ROOT/Dockerfile" bah build --layers --force-rm --pull=never --network host \
  -f "$ROOT/Dockerfile" \
  --build-arg "NODE_IMAGE=$BASE_REF" --build-arg "NODE_BUILD_IMAGE=$BUILD_BASE_REF" \
  -t "$MCGW_REF" "$ROOT"
log "mcgw: built in $((SECONDS - started)) s"

# --- Archives and images.json -------------------------------------------------------------------

image_id() { bah inspect --type image --format '{{.FromImageID}}' "$1"; }

# The bytes of the image in an OCI archive once unpacked: its layers uncompressed. Read from the
# archive itself, the file the Nodes import.
# unpacked_bytes ARCHIVE SCRATCH_DIR
unpacked_bytes() {
  local dir=$2
  tar -xf "$1" -C "$dir" || return 1
  node --input-type=module - "$dir" <<'JS'
import { createReadStream, readFileSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
const dir = process.argv[2];
const blob = (digest) => `${dir}/blobs/${digest.replace(':', '/')}`;
const index = JSON.parse(readFileSync(`${dir}/index.json`, 'utf8'));
if (index.manifests.length !== 1) throw new Error(`the archive holds ${index.manifests.length} manifests, not 1`);
const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
let total = 0;
for (const layer of manifest.layers) {
  const raw = createReadStream(blob(layer.digest));
  const stream = layer.mediaType.endsWith('+gzip') ? raw.pipe(createGunzip()) : raw;
  for await (const chunk of stream) total += chunk.length;
}
console.log(total);
JS
}

# Writes the image to an OCI archive, unless the archive already holds this image ID. The reference
# inside the archive is the full name, which `ctr images import --base-name <name>` keeps as it is.
# Beside it: <archive>.id (the image ID) and <archive>.bytes (its unpacked size).
archive() {
  local ref=$1 file=$2 id
  id="$(image_id "$ref")"
  if [[ -f $file && -f $file.bytes && $(cat "$file.id" 2>/dev/null) == "$id" ]]; then return 0; fi
  rm -f "$file" "$file.id" "$file.bytes"
  tmp_files+=("$file.tmp")
  step "writing $ref to $file" bah push --quiet "$ref" "oci-archive:$file.tmp:$ref"
  local bytes scratch
  scratch="$(mktemp -d "$OUT/.layers.XXXXXX")"
  tmp_files+=("$scratch")
  bytes="$(unpacked_bytes "$file.tmp" "$scratch")" || die "could not read the layers of $file.tmp"
  rm -rf "$scratch"
  mv "$file.tmp" "$file"
  echo "$bytes" >"$file.bytes"
  echo "$id" >"$file.id"
}

archive "$MCGW_REF" "$OUT/mcgw.tar"
archive "$PAUSE_REF" "$OUT/pause.tar"

entry() { # entry name ref file
  printf '    {"name": "%s", "ref": "%s", "id": "sha256:%s", "archive": "%s", "imageBytes": %s, "archiveBytes": %s}' \
    "$1" "$2" "$(<"$3.id")" "$3" "$(<"$3.bytes")" "$(stat -c %s "$3")"
}
{
  printf '{\n  "images": [\n'
  entry mcgw "$MCGW_REF" "$OUT/mcgw.tar"
  printf ',\n'
  entry pause "$PAUSE_REF" "$OUT/pause.tar"
  printf '\n  ],\n'
  printf '  "base": {"ref": "%s", "buildRef": "%s", "suite": "%s", "nodejs": "%s"},\n' \
    "$BASE_REF" "$BUILD_BASE_REF" "$SUITE" "$NODEJS_VERSION"
  printf '  "kubernetes": "%s",\n  "storageDriver": "%s"\n' "$K8S_VERSION" "$DRIVER"
  printf '}\n'
} >"$OUT/images.json.tmp"
mv "$OUT/images.json.tmp" "$OUT/images.json"

human() { numfmt --to=iec-i --suffix=B "$1"; }
log "mcgw: $MCGW_REF is $(human "$(<"$OUT/mcgw.tar.bytes")") unpacked, $(human "$(stat -c %s "$OUT/mcgw.tar")") as an archive"
log "done: $OUT"
echo "$OUT"
