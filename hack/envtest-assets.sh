#!/usr/bin/env bash
# envtest-assets.sh builds kube-apiserver and etcd for envtest from the Go
# module proxy and prints the folder that holds them (the last line of stdout),
# ready for KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
#
# Why build instead of downloading: the binaries come from the same module
# proxy (and checksum database) as every other dependency, so an environment
# that can build the project can build its test control plane, and nothing is
# fetched from a bucket we do not pin.
#
# Environment:
#   ENVTEST_K8S_VERSION  Kubernetes minor ("1.36", default) or exact version
#                        ("v1.36.5"). A minor resolves to the newest patch the
#                        module proxy serves.
#   ENVTEST_CACHE_DIR    cache root (default
#                        ${XDG_CACHE_HOME:-$HOME/.cache}/capiform/envtest);
#                        binaries go to <root>/<version>/{kube-apiserver,etcd}.
#
# The build is skipped when both binaries exist. A cold build takes about
# 12 minutes and 2.5 GB of memory; it writes into a temporary folder and
# renames it into the cache, so an interrupted build leaves nothing half-made.
set -euo pipefail

want="${ENVTEST_K8S_VERSION:-1.36}"
want="${want#v}"
cache_root="${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/capiform/envtest}"

log() { printf 'envtest-assets: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH"

# Module queries run outside any module so that the repository's go.mod and
# GOFLAGS do not interfere.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
gocmd() { (cd "$scratch" && GOFLAGS= GO111MODULE=on GOTOOLCHAIN="${GOTOOLCHAIN:-local}" go "$@"); }

module_exists() { gocmd list -m -json "k8s.io/kubernetes@$1" >/dev/null 2>&1; }

# cached_version prints the newest cached, complete version matching $1
# (a minor like 1.36) or nothing.
cached_version() {
  local minor="$1" d best=""
  [ -d "$cache_root" ] || return 0
  for d in "$cache_root"/v"$minor".*; do
    [ -x "$d/kube-apiserver" ] && [ -x "$d/etcd" ] || continue
    best="$(printf '%s\n%s\n' "$best" "$(basename "$d")" | sed '/^$/d' | sort -V | tail -n1)"
  done
  printf '%s' "$best"
}

resolve_version() {
  local minor="$1" listed latest patch
  # The proxy's version list can lag behind the versions it serves, so start
  # from the newest listed patch and probe the following ones.
  listed="$(gocmd list -m -versions k8s.io/kubernetes 2>/dev/null | tr ' ' '\n' |
    grep -E "^v${minor//./\\.}\.[0-9]+$" | sort -V | tail -n1 || true)"
  if [ -z "$listed" ]; then
    module_exists "v$minor.0" || return 1
    listed="v$minor.0"
  fi
  latest="$listed"
  patch="${listed##*.}"
  while module_exists "v$minor.$((patch + 1))"; do
    patch=$((patch + 1))
    latest="v$minor.$patch"
  done
  printf '%s' "$latest"
}

if [[ "$want" =~ ^[0-9]+\.[0-9]+$ ]]; then
  if ! version="$(resolve_version "$want")"; then
    # Offline: fall back to what a previous run built.
    version="$(cached_version "$want")"
    [ -n "$version" ] || die "cannot resolve Kubernetes $want from the module proxy and nothing is cached under $cache_root"
    log "module proxy unreachable; using cached $version"
  fi
elif [[ "$want" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  version="v$want"
else
  die "ENVTEST_K8S_VERSION must look like 1.36 or v1.36.5, got '$want'"
fi

dest="$cache_root/$version"
if [ -x "$dest/kube-apiserver" ] && [ -x "$dest/etcd" ]; then
  log "using cached $dest"
  printf '%s\n' "$dest"
  exit 0
fi

IFS=. read -r major minor patch <<<"${version#v}"
staging_version="v0.$minor.$patch"
log "building kube-apiserver and etcd $version (staging modules $staging_version) into $dest"

# k8s.io/kubernetes replaces its staging modules with ./staging paths, which is
# why it cannot be `go install`ed. Read those replaces and point each at the
# published module of the matching version instead.
gomod="$(gocmd mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -f "$gomod" ] || die "cannot download the go.mod of k8s.io/kubernetes@$version"
staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$gomod" | sort -u)"
[ -n "$staging" ] || die "found no staging replaces in the go.mod of k8s.io/kubernetes@$version"
etcd_version="$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3 \(v[^[:space:]]*\).*#\1#p' "$gomod" | head -n1)"
[ -n "$etcd_version" ] || die "k8s.io/kubernetes@$version does not pin go.etcd.io/etcd/server/v3"
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)"

apiserver_mod="$scratch/kube-apiserver"
mkdir -p "$apiserver_mod"
{
  printf 'module capiform.local/envtest-kube-apiserver\n\ngo %s\n\n' "$go_directive"
  printf 'require k8s.io/kubernetes %s\n\nreplace (\n' "$version"
  for m in $staging; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; done
  printf ')\n'
} >"$apiserver_mod/go.mod"
printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$apiserver_mod/tools.go"

etcd_mod="$scratch/etcd"
mkdir -p "$etcd_mod"
printf 'module capiform.local/envtest-etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
  "$go_directive" "$etcd_version" >"$etcd_mod/go.mod"
printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$etcd_mod/tools.go"

build_date="$(gocmd list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$version")"
ldflags="-s -w"
# Discovery (/version) must report the real version: clusterctl checks it.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

# The temporary folder sits beside the destination (same file system) so the
# final rename is atomic.
mkdir -p "$cache_root"
out="$(mktemp -d "$cache_root/.$version.tmp.XXXXXX")"
trap 'rm -rf "$scratch" "$out"' EXIT

build() { # build <module dir> <package> <output> [ldflags]
  (cd "$1" && GOFLAGS=-mod=mod GO111MODULE=on GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 \
    go build -trimpath -ldflags "${4:-}" -o "$3" "$2")
}

start=$SECONDS
log "go build k8s.io/kubernetes/cmd/kube-apiserver@$version"
build "$apiserver_mod" k8s.io/kubernetes/cmd/kube-apiserver "$out/kube-apiserver" "$ldflags"
log "go build go.etcd.io/etcd/server/v3@$etcd_version"
build "$etcd_mod" go.etcd.io/etcd/server/v3 "$out/etcd" "-s -w"

got="$("$out/kube-apiserver" --version 2>/dev/null || true)"
[ "$got" = "Kubernetes $version" ] || die "built kube-apiserver reports '$got', want 'Kubernetes $version'"

chmod 0755 "$out/kube-apiserver" "$out/etcd"
if [ -e "$dest" ]; then
  # An incomplete leftover (one binary missing) from an older layout.
  rm -rf "$dest"
fi
mv "$out" "$dest"
log "built in $((SECONDS - start))s"
printf '%s\n' "$dest"
