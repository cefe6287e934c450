#!/usr/bin/env bash
# helm.sh builds the helm CLI of a pinned version from the Go module proxy and
# prints the path of the binary (the last line of stdout):
#
#   helm="$(hack/helm.sh | tail -n1)"
#
# `make bench` uses it for the per-cluster `helm template` loop that capiform is
# compared with. Like envtest-assets.sh, it builds instead of downloading: the
# binary comes from the same module proxy (and checksum database) as every other
# dependency, so an environment that can build the project can build helm.
#
# Environment:
#   HELM_VERSION    exact helm version (default v4.2.4), e.g. v4.2.4 or 4.2.4
#   HELM_CACHE_DIR  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/capiform/helm);
#                   the binary goes to <root>/<version>/helm
#
# The build is skipped when the binary exists. A cold build compiles helm's
# own dependencies (other versions than capiform's): 26 minutes were measured
# on a 2-core machine under heavy load (load average about 20). It installs
# into a temporary folder and renames it into the cache, so an interrupted
# build leaves nothing half-made.
set -euo pipefail

version="${HELM_VERSION:-v4.2.4}"
version="v${version#v}"
cache_root="${HELM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/capiform/helm}"

log() { printf 'helm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$version" =~ ^v([0-9]+)\.[0-9]+\.[0-9]+$ ]] || die "HELM_VERSION must look like v4.2.4, got '$version'"
major="${BASH_REMATCH[1]}"
(( major >= 3 )) || die "only helm v3 and later are Go modules that can be installed, got $version"
# helm.sh/helm/v3, helm.sh/helm/v4, ...
module="helm.sh/helm/v$major"

dest="$cache_root/$version"
if [ -x "$dest/helm" ]; then
  log "using cached $dest/helm"
  printf '%s\n' "$dest/helm"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH"

# `go install pkg@version` runs outside any module so that the repository's
# go.mod and GOFLAGS do not interfere. The temporary folder sits beside the
# destination (same file system) so that the final rename is atomic.
scratch="$(mktemp -d)"
mkdir -p "$cache_root"
out="$(mktemp -d "$cache_root/.$version.tmp.XXXXXX")"
trap 'rm -rf "$scratch" "$out"' EXIT

log "building $module/cmd/helm@$version into $dest"
start=$SECONDS
# The version is stamped as helm's own release build does (`go install` alone
# leaves `helm version` at the minor, e.g. v4.2).
(cd "$scratch" && GOBIN="$out" GOFLAGS= GO111MODULE=on GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 \
  go install -trimpath -ldflags "-s -w -X $module/internal/version.version=$version" "$module/cmd/helm@$version")

got="$("$out/helm" version --short 2>/dev/null || true)"
[ "${got%%+*}" = "$version" ] || die "built helm reports '$got', want '$version'"

chmod 0755 "$out" "$out/helm"
if [ -e "$dest" ]; then
  # An incomplete leftover (the binary missing).
  rm -rf "$dest"
fi
mv "$out" "$dest"
log "built in $((SECONDS - start))s"
printf '%s\n' "$dest/helm"
