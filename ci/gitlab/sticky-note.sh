#!/bin/sh
# Posts a file as the one capiform note of a merge request, updating the
# note of an earlier run (found by its marker) instead of adding another.
# Needs curl, jq and CAPIFORM_GITLAB_TOKEN; GitLab sets the CI_* variables.
set -eu

report=${1:?usage: sticky-note.sh REPORT}
marker='<!-- capiform-diff -->'
api="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"

if [ ! -s "$report" ]; then
  printf '%s\ncapiform diff produced no report: see the job log.\n' "$marker" > "$report"
fi
if ! grep -qF "$marker" "$report"; then
  { printf '%s\n' "$marker"; cat "$report"; } > "$report.tmp" && mv "$report.tmp" "$report"
fi
# GitLab notes hold up to 1,000,000 characters; the report already fits
# 65,536.
body=$(jq -Rs '{body: .}' < "$report")

note=$(curl -fsS --header "PRIVATE-TOKEN: $CAPIFORM_GITLAB_TOKEN" "$api?per_page=100&sort=asc" |
  jq -r --arg m "$marker" '[.[] | select(.system == false and (.body | contains($m)))][0].id // empty')

if [ -n "$note" ]; then
  curl -fsS -X PUT --header "PRIVATE-TOKEN: $CAPIFORM_GITLAB_TOKEN" --header "Content-Type: application/json" \
    --data "$body" "$api/$note" > /dev/null
else
  curl -fsS -X POST --header "PRIVATE-TOKEN: $CAPIFORM_GITLAB_TOKEN" --header "Content-Type: application/json" \
    --data "$body" "$api" > /dev/null
fi
