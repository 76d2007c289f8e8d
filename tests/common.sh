# shellcheck shell=bash
# Sourced by the test scripts.
#
# Every slow cache lives outside the clone, so repeated runs on one machine
# are fast and the clone stays clean:
#   $ESHOP_CACHE_DIR/control-plane/  etcd, Kubernetes and kwok builds
#   $ESHOP_CACHE_DIR/target/         the cargo target directory
#   $ESHOP_CACHE_DIR/target-image/   the image's static build (tests/e2e/image)
# The Go build and module caches stay where Go keeps them (`go env GOCACHE GOMODCACHE`).
export ESHOP_CACHE_DIR=${ESHOP_CACHE_DIR:-$HOME/.cache/eshop}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ESHOP_CACHE_DIR/target}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages. The package lists may be missing on a fresh
# machine, so a failed install refreshes them once and tries again.
install_packages() {
  printf 'installing %s\n' "$*" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
