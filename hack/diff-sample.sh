#!/usr/bin/env bash
# diff-sample.sh shows what `capiform diff` says about a sample change to the
# example fleet, without touching this checkout: it clones the repository's
# HEAD into a temporary folder, changes the flavor of lon/research's
# "general" node group and the size of edi/teaching's "md-0", and diffs the
# work tree against HEAD.
#
#   hack/diff-sample.sh [-o text|markdown|json]
set -euo pipefail
top="$(git rev-parse --show-toplevel)"
bin="${CAPIFORM:-$top/bin/capiform}"
[ -x "$bin" ] || (cd "$top" && go build -o bin/capiform ./tools/cmd/capiform)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone -q "$top" "$tmp/fleet"
cd "$tmp/fleet"
# lon/research: general workers m1.xlarge -> m1.large (a rollout of that group only)
awk '/name: general/{g=1} g && /flavor: m1.xlarge/{sub(/m1.xlarge/,"m1.large"); g=0} {print}' \
  clusters/lon/research.yaml > research.yaml && mv research.yaml clusters/lon/research.yaml
# edi/teaching: 3 -> 5 workers (a scale, no rollout)
sed -i 's/replicas: 3/replicas: 5/' clusters/edi/teaching.yaml
echo "# the sample change:" >&2
git --no-pager diff --stat >&2
set +e
"$bin" diff --base HEAD "$@"
code=$?
set -e
echo "# capiform diff exited $code (0 no change, 1 changes, 2 error)" >&2
[ "$code" -le 1 ]
