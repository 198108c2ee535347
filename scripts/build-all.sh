#!/usr/bin/env bash
# Runs the cached builds side by side: build-control-plane.sh (Go, CPU-bound, the longest),
# build-helm.sh (Go) and, as root, build-images.sh (much of it waiting on the network and the disk:
# mmdebstrap, apt and npm inside buildah), so that on a fresh machine helm and the images are built
# while the control plane compiles instead of after it. With everything cached each is a quick check.
# Each build's stderr goes to $MCGW_CACHE/logs/<build>.log; its own progress lines, tagged with its
# name, are shown as they come. When a build fails, the Go builds still running are stopped (their
# whole process groups), the images build is waited for (see below), and the run exits with the
# failed build's status, naming it and showing its log's tail.
# Usage: build-all.sh [build-name ...] (default: all three; the images only as root).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${MCGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcgw}"
LOGS="$CACHE/logs"
log() { printf '[build-all] %s\n' "$*" >&2; }

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="$PATH:/usr/local/go/bin"; fi

builds=("$@")
if ((${#builds[@]} == 0)); then
  builds=(build-control-plane build-helm)
  # build-images.sh needs root (buildah's store, mmdebstrap's chroot). Without it the images are
  # left to the first test or lab run that needs them, which says so.
  if [[ $(id -u) -eq 0 ]]; then builds+=(build-images); else log "not root: the images are not built now"; fi
fi
for b in "${builds[@]}"; do
  case "$b" in
    build-control-plane | build-helm | build-images) ;;
    *) log "error: unknown build '$b' (known: build-control-plane, build-helm, build-images)"; exit 2 ;;
  esac
done
mkdir -p "$LOGS"

# Passes on the progress lines a build writes itself ("[build-helm] ..."); the tools' chatter (go
# get's "go: added" lines, compiler output) stays in the log, whose tail is shown if the build
# fails. Each line is written with one write(2), far below PIPE_BUF, so the builds' lines never
# split each other.
progress() {
  local name=$1 line
  while IFS= read -r line; do
    case "$line" in "[$name]"*) printf '%s\n' "$line" ;; esac
  done
}

# One build: its stdout (the path it prints) is not needed here; its stderr goes to its log and
# its progress lines to ours. The exit status is the build's own, not tee's or progress's. tee and
# progress ignore TERM and INT: they end when the build's output does, so a build that is being
# stopped can still write (bash's "Terminated", a trap's cleanup) instead of dying of SIGPIPE.
run_build() {
  local name=$1 log="$LOGS/$1.log"
  bash "scripts/$name.sh" 2>&1 >/dev/null </dev/null \
    | (trap '' TERM INT; exec tee "$log") \
    | (trap '' TERM INT; progress "$name") >&2
  return "${PIPESTATUS[0]}"
}

# Job control puts each build in its own process group, so stopping a build reaches everything it
# started (go's compilers), not just its shell.
set -m
declare -A pid_of=() started=()
for b in "${builds[@]}"; do
  run_build "$b" &
  pid_of[$b]=$!
  started[$b]=$SECONDS
done
set +m

# Whether a process group still has a live (not zombie) member. A build's first process stays a
# zombie until it is waited for, so its mere presence does not count.
group_alive() {
  local pids
  pids="$(pgrep -d, -g "$1")" || return 1
  ps -o stat= -p "$pids" | grep -qv '^Z'
}

# Sends TERM to the named builds' process groups, waits for every build still running (the others
# finish on their own), and sends KILL to a stopped build that ignored TERM for 30 s.
stop_and_wait() {
  local b p left
  for b in "$@"; do
    if [[ -n ${pid_of[$b]:-} ]]; then kill -TERM -- "-${pid_of[$b]}" 2>/dev/null || true; fi
  done
  for _ in $(seq 60); do
    left=0
    for b in "$@"; do
      if [[ -n ${pid_of[$b]:-} ]] && group_alive "${pid_of[$b]}"; then left=1; fi
    done
    ((left)) || break
    sleep 0.5
  done
  for b in "$@"; do
    if [[ -n ${pid_of[$b]:-} ]] && group_alive "${pid_of[$b]}"; then
      log "$b ignored TERM for 30 s; killing it"
      kill -KILL -- "-${pid_of[$b]}" 2>/dev/null || true
    fi
  done
  local status
  for b in "${!pid_of[@]}"; do
    p=${pid_of[$b]}
    status=0
    wait "$p" 2>/dev/null || status=$?
    # A build that ended while a trap interrupted `wait -n` may already be reaped: bash then has
    # no status for it (127, or -1 seen here).
    if ((status < 0 || status == 127)); then status=unknown; fi
    if [[ $status == 0 ]]; then
      log "$b: ok in $((SECONDS - started[$b])) s"
    else
      log "$b: ended with exit $status after $((SECONDS - started[$b])) s (log: $LOGS/$b.log)"
    fi
    unset "pid_of[$b]"
  done
}
# An interrupt stops every build, the images too.
trap 'log "interrupted; stopping the builds"; stop_and_wait "${!pid_of[@]}"; exit 130' INT TERM

failed=
while ((${#pid_of[@]})); do
  # wait -n -p names the build that ended (bash 5.1+).
  done_pid=
  set +e
  wait -n -p done_pid "${pid_of[@]}"
  status=$?
  set -e
  [[ -n $done_pid ]] || continue
  for b in "${!pid_of[@]}"; do
    [[ ${pid_of[$b]} == "$done_pid" ]] || continue
    unset "pid_of[$b]"
    if ((status == 0)); then
      log "$b: ok in $((SECONDS - started[$b])) s"
    else
      failed=$b
      log "error: $b failed (exit $status) after $((SECONDS - started[$b])) s; its log is $LOGS/$b.log"
    fi
  done
  if [[ -n $failed ]]; then
    # The Go builds are stopped at once: go leaves nothing half-made behind (each build writes to a
    # scratch directory first). The images build is left to finish: buildah or mmdebstrap stopped
    # midway leaves working containers with their overlay mounts in the store.
    stop=()
    for b in "${!pid_of[@]}"; do
      if [[ $b == build-images ]]; then
        log "waiting for build-images to finish (stopping buildah midway leaves mounts behind)"
      else
        stop+=("$b")
      fi
    done
    if ((${#stop[@]})); then log "stopping ${stop[*]}"; fi
    stop_and_wait "${stop[@]}"
    log "error: $failed failed; the last lines of $LOGS/$failed.log:"
    tail -n 30 "$LOGS/$failed.log" | sed 's/^/  | /' >&2
    exit "$status"
  fi
done
