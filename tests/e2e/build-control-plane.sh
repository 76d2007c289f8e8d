#!/usr/bin/env bash
# Builds the local control plane from the Go module proxy: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok (with its stage files).
# Also builds eshop-judge (tests/e2e/judge), which tells the tests what kstatus
# and Argo CD's Lua health check make of an EShop's status.
#
# Binaries go to $ESHOP_CACHE_DIR/control-plane/<component>-<version>/ (default
# ~/.cache/eshop), never into the repository. The judge's <version> is a key
# of its sources, so an edited judge is rebuilt. A component whose directory
# exists is not rebuilt. Each component is built in a work directory and moved
# into place when complete, so an interrupted build is never mistaken for a
# finished one; its work directory is removed by the next run.
#
# Usage: tests/e2e/build-control-plane.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$here/versions.env"
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$here/../common.sh"

cache=$ESHOP_CACHE_DIR/control-plane
mkdir -p "$cache"
# One build at a time per cache, even when two test runs start together.
exec 9>"$cache/.lock"
flock 9
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf 'build-control-plane: %s\n' "$*" >&2; }

# Runs "$2 <out dir> <work dir>" unless $cache/$1 exists, then moves the out
# dir into place. Work left by an interrupted build is removed first.
build_once() {
  local name=$1 builder=$2
  if [[ -d $cache/$name ]]; then
    log "$name is cached"
    return
  fi
  local work=$cache/.work-$name
  rm -rf "$work"
  mkdir -p "$work/out" "$work/src"
  log "building $name (a cold build takes minutes)"
  local started=$SECONDS
  "$builder" "$work/out" "$work/src"
  mv "$work/out" "$cache/$name"
  rm -rf "$work"
  log "built $name in $((SECONDS - started))s"
}

# A wrapper module that requires $1@$2 and replaces each module named in
# $1's own go.mod `replace` block with its published version $3.
# Only replaced modules that $1 actually requires are kept: some (e.g. the
# sample plugins of Kubernetes) are never published.
write_wrapper_module() {
  local module=$1 version=$2 published=$3 dir=$4 gomod
  gomod=$(go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  local required replaced
  required=$(awk '/^require \(/{inside=1; next} inside && /^\)/{inside=0} inside{print $1} /^require [^(]/{print $2}' "$gomod")
  replaced=$(awk '/=> \.\.?\//{print ($1 == "replace" ? $2 : $1)}' "$gomod" | sort -u)
  {
    printf 'module eshop.local/controlplane\n\ngo %s\n\n' "$(go env GOVERSION | sed 's/^go//')"
    printf 'require %s %s\n\nreplace (\n' "$module" "$version"
    local m
    for m in $replaced; do
      grep -qx "$m" <<<"$required" && printf '\t%s => %s %s\n' "$m" "$m" "$published"
    done
    printf ')\n'
  } >"$dir/go.mod"
  # Keep the release's godebug defaults, which its binaries are tested with.
  grep '^godebug' "$gomod" >>"$dir/go.mod" || true
}

build_kubernetes() {
  local out=$1 src=$2 minor
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  write_wrapper_module k8s.io/kubernetes "$KUBERNETES_VERSION" "v0.${KUBERNETES_VERSION#v1.}" "$src"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (
    cd "$src"
    local packages=() command
    for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      packages+=("k8s.io/kubernetes/cmd/$command")
    done
    go get "${packages[@]/%/@$KUBERNETES_VERSION}"
    go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out/" "${packages[@]}"
  )
}

build_etcd() {
  local out=$1 src=$2
  write_wrapper_module go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" "$src"
  (
    cd "$src"
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
}

build_kwok() {
  local out=$1
  GOBIN=$out go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  local module_dir
  module_dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  cp -r "$module_dir/kustomize/stage" "$out/stage"
  chmod -R u+w "$out/stage"
}

judge=$here/judge
# The first 12 hex digits of the sha256 of the judge's go.mod, go.sum and
# main.go; judge_binary() in tests/e2e/src/builds.rs computes the same key.
judge_key=$(cat "$judge/go.mod" "$judge/go.sum" "$judge/main.go" | sha256sum | cut -c1-12)

build_judge() {
  local out=$1 src=$2
  cp "$judge/go.mod" "$judge/go.sum" "$judge/main.go" "$src/"
  (
    cd "$src"
    go build -trimpath -ldflags "-s -w" -o "$out/eshop-judge" .
  )
}

build_once "etcd-$ETCD_VERSION" build_etcd
build_once "kwok-$KWOK_VERSION" build_kwok
build_once "kubernetes-$KUBERNETES_VERSION" build_kubernetes
build_once "judge-$judge_key" build_judge
