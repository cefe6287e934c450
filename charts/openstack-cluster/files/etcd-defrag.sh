#!/bin/sh
# Defragments the members of this cluster's etcd one at a time.
#
# Written by the openstack-cluster chart on every control plane machine and
# run by cron on each at the same time: only the machine whose member leads
# acts, so that two members are never defragmented at once (a member
# defragmenting blocks its reads and writes). It defragments the followers
# first and its own member last, so that leadership moves at most once.
# etcdctl runs inside the etcd container (the image has no etcdctl), with
# the client certificate kubeadm makes for etcd's health checks. A member
# that does not answer stops the run: no defragmentation while degraded.
set -eu

id=$(crictl ps --quiet --name '^etcd$' --state running | head -n 1)
if [ -z "$id" ]; then
  echo "no running etcd container on this machine" >&2
  exit 1
fi

ctl() {
  endpoint=$1
  shift
  crictl exec "$id" etcdctl --endpoints="$endpoint" \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt \
    --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key \
    --command-timeout=10m "$@"
}

# The member ID and the leader's, as etcd reports them (JSON numbers).
field() {
  grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}

local_status=$(ctl https://127.0.0.1:2379 endpoint status -w json)
leader=$(echo "$local_status" | field leader)
self=$(echo "$local_status" | field member_id)
if [ -z "$leader" ] || [ "$leader" != "$self" ]; then
  exit 0
fi

# The first client URL of every member (ID, status, name, peer URLs, client
# URLs, learner).
for url in $(ctl https://127.0.0.1:2379 member list -w simple | awk -F', ' '{print $5}' | cut -d, -f1); do
  member=$(ctl "$url" endpoint status -w json | field member_id)
  if [ "$member" = "$self" ]; then
    continue
  fi
  echo "defragmenting follower $url"
  ctl "$url" defrag
  # Let the member catch up before the next one stops.
  sleep 30
done
echo "defragmenting the leader (this machine)"
ctl https://127.0.0.1:2379 defrag
