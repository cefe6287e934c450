{{/*
Labels of every object of the cluster.
*/}}
{{- define "openstack-cluster.labels" -}}
capiform.dev/site: {{ .Values.site | quote }}
capiform.dev/cluster: {{ .Values.clusterName | quote }}
cluster.x-k8s.io/cluster-name: {{ .Values.clusterName | quote }}
{{- end }}

{{/*
Labels of the objects of one node group: (dict "root" $ "group" $group).
*/}}
{{- define "openstack-cluster.groupLabels" -}}
{{ include "openstack-cluster.labels" .root }}
capiform.dev/node-group: {{ .group.name | quote }}
{{- end }}

{{/*
The OpenStack image of a machine, by ID or by name.
*/}}
{{- define "openstack-cluster.image" -}}
{{- if .id -}}
id: {{ .id | quote }}
{{- else -}}
filter:
  name: {{ .name | quote }}
{{- end }}
{{- end }}

{{/*
The spec of an OpenStackMachineTemplate's machine (spec.template.spec):
(dict "root" $ "flavor" ... "image" ... "rootVolume" ... "etcd" ... "machine" ...).
Its hash names the template, so everything that shapes a machine is here and
nothing else is.
*/}}
{{- define "openstack-cluster.machineSpec" -}}
{{- $v := .root.Values -}}
flavor: {{ .flavor | quote }}
identityRef:
  name: {{ $v.cloudCredentialsSecretName | quote }}
  cloudName: {{ $v.cloudName | default "openstack" | quote }}
image:
  {{- include "openstack-cluster.image" .image | nindent 2 }}
{{- with $v.machineSSHKeyName }}
sshKeyName: {{ . | quote }}
{{- end }}
{{- with .rootVolume }}
rootVolume:
  sizeGiB: {{ .sizeGiB }}
  {{- with .type }}
  type: {{ . | quote }}
  {{- end }}
  {{- with .availabilityZone }}
  availabilityZone:
    name: {{ . | quote }}
  {{- end }}
{{- end }}
{{- with .etcd }}
{{- with .volume }}
# The guest finds the volume by its tag (the block device's name), which Nova
# publishes in the config drive's metadata (see the chart's README).
configDrive: true
additionalBlockDevices:
  - name: etcd
    sizeGiB: {{ .sizeGiB }}
    storage:
      type: Volume
      {{- if or .type .availabilityZone }}
      volume:
        {{- with .type }}
        type: {{ . | quote }}
        {{- end }}
        {{- with .availabilityZone }}
        availabilityZone:
          name: {{ . | quote }}
        {{- end }}
      {{- end }}
{{- end }}
{{- end }}
{{- include "openstack-cluster.machinePlacement" . }}
{{- end }}

{{/*
The name of a machine template: <clusterName>-<group>-<hash8>, where hash8 is
the first 8 hex digits of the SHA-256 of what the template makes (its spec,
and for OpenStackMachineTemplates the Kubernetes version the image carries).
A change of spec is a new name and so a rollout; replicas and labels are not
part of any spec, and the group's name keeps equal specs of two groups apart.
(dict "root" $ "group" "md-0" "content" $renderedSpec)
*/}}
{{- define "openstack-cluster.templateName" -}}
{{- printf "%s-%s" (include "openstack-cluster.componentName" (dict "root" .root "component" .group)) (.content | sha256sum | trunc 8) -}}
{{- end }}

{{/*
The naming style: capiform, or capi-helm-charts for a cluster adopted from
azimuth-cloud/capi-helm-charts' openstack-cluster chart (see the README).
*/}}
{{- define "openstack-cluster.namingStyle" -}}
{{- (.Values.naming | default dict).style | default "capiform" -}}
{{- end }}

{{/*
capi-helm-charts' label domain (its projectPrefix value), for naming style
capi-helm-charts.
*/}}
{{- define "openstack-cluster.projectPrefix" -}}
{{- (.Values.naming | default dict).projectPrefix | default "capi.stackhpc.com" -}}
{{- end }}

{{/*
The name of one part of the cluster, <clusterName>-<component>. In naming
style capi-helm-charts it is cut at 63 characters with no trailing dash, as
that chart cuts it, so that a long name stays the adopted object's name.
(dict "root" $ "component" "control-plane")
*/}}
{{- define "openstack-cluster.componentName" -}}
{{- $name := printf "%s-%s" .root.Values.clusterName .component -}}
{{- if eq (include "openstack-cluster.namingStyle" .root) "capi-helm-charts" -}}
{{- $name = $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- $name -}}
{{- end }}

{{/*
capi-helm-charts' selector labels of one component of the cluster, in
naming style capi-helm-charts, else nothing: (dict "root" $ "component"
"worker"). Selectors that cannot change (a Deployment's) or that choose
which MachineSets are a MachineDeployment's stay as that chart made them.
*/}}
{{- define "openstack-cluster.adoptedSelector" -}}
{{- if eq (include "openstack-cluster.namingStyle" .root) "capi-helm-charts" -}}
{{- $prefix := include "openstack-cluster.projectPrefix" .root -}}
{{ $prefix }}/cluster: {{ .root.Values.clusterName | quote }}
{{ $prefix }}/component: {{ .component | quote }}
{{- with .group }}
{{ $prefix }}/node-group: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The kubelet arguments every node registers with: an external cloud provider
(the OpenStack cloud controller manager initialises the node) and CAPO's
provider ID.
*/}}
{{- define "openstack-cluster.nodeRegistration" -}}
name: '{{`{{ local_hostname }}`}}'
kubeletExtraArgs:
  - name: cloud-provider
    value: external
  - name: provider-id
    value: 'openstack:///{{`{{ instance_id }}`}}'
{{- end }}

{{/*
Deletion timeouts of machines: drain for at most 10 minutes, then wait at most
10 minutes for volumes to detach, so that a stuck Pod cannot block a rollout
for ever. They are propagated in place, never rolled.
*/}}
{{- define "openstack-cluster.machineDeletion" -}}
nodeDrainTimeoutSeconds: 600
nodeVolumeDetachTimeoutSeconds: 600
{{- end }}

{{/*
A number or a percentage (an IntOrString): a string stays quoted, a number
is written as an integer.
*/}}
{{- define "openstack-cluster.intOrPercent" -}}
{{- if kindIs "string" . -}}
{{ . | quote }}
{{- else -}}
{{ int . }}
{{- end }}
{{- end }}

{{/*
The spec of a MachineHealthCheck less its selector, from the healthCheck
value: a node that is not Ready for unhealthyTimeoutSeconds, or has not
joined within nodeStartupTimeoutSeconds, is replaced, while at most
maxUnhealthy.<part> machines are unhealthy at once.
(dict "root" $ "part" "workers"), or "controlPlane"
*/}}
{{- define "openstack-cluster.healthCheckSpec" -}}
{{- $h := .root.Values.healthCheck | default dict -}}
{{- $max := index ($h.maxUnhealthy | default dict) .part -}}
checks:
  {{- if hasKey $h "nodeStartupTimeoutSeconds" }}
  nodeStartupTimeoutSeconds: {{ $h.nodeStartupTimeoutSeconds | int }}
  {{- end }}
  unhealthyNodeConditions:
    - type: Ready
      status: Unknown
      timeoutSeconds: {{ $h.unhealthyTimeoutSeconds | default 300 | int }}
    - type: Ready
      status: "False"
      timeoutSeconds: {{ $h.unhealthyTimeoutSeconds | default 300 | int }}
{{- if not (kindIs "invalid" $max) }}
remediation:
  triggerIf:
    unhealthyLessThanOrEqualTo: {{ include "openstack-cluster.intOrPercent" $max }}
{{- end }}
{{- end }}

{{/*
The generated KubeadmConfigSpec of the control plane; the pass-through
controlPlane.kubeadmConfigSpec is merged over it.
*/}}
{{- define "openstack-cluster.controlPlaneKubeadmConfigSpec" -}}
{{- $v := .Values -}}
{{- $etcd := $v.etcd | default dict -}}
{{- $kubeProxy := or (not $v.kubeProxy) $v.kubeProxy.enabled -}}
clusterConfiguration:
{{- with $v.oidc }}
  apiServer:
    extraArgs:
      - name: oidc-issuer-url
        value: {{ .issuerURL | quote }}
      - name: oidc-client-id
        value: {{ .clientID | quote }}
      {{- with .usernameClaim }}
      - name: oidc-username-claim
        value: {{ . | quote }}
      {{- end }}
      {{- with .usernamePrefix }}
      - name: oidc-username-prefix
        value: {{ . | quote }}
      {{- end }}
      {{- with .groupsClaim }}
      - name: oidc-groups-claim
        value: {{ . | quote }}
      {{- end }}
      {{- with .groupsPrefix }}
      - name: oidc-groups-prefix
        value: {{ . | quote }}
      {{- end }}
{{- end }}
  {{- include "openstack-cluster.etcdAndMetrics" $etcd | nindent 2 }}
initConfiguration:
  {{- if not $kubeProxy }}
  # The CNI serves Services (kubeProxy.enabled false): kubeadm init
  # installs no kube-proxy.
  skipPhases:
    - addon/kube-proxy
  {{- end }}
  nodeRegistration:
    {{- include "openstack-cluster.nodeRegistration" . | nindent 4 }}
    {{- include "openstack-cluster.etcdPreflight" $etcd | nindent 4 }}
joinConfiguration:
  nodeRegistration:
    {{- include "openstack-cluster.nodeRegistration" . | nindent 4 }}
    {{- include "openstack-cluster.etcdPreflight" $etcd | nindent 4 }}
{{- with $etcd.volume }}
# The etcd volume, by the link the image makes from the tag Nova gives the
# block device (never by a device name like /dev/vdb, which depends on the
# disks before it). A whole-disk ext4, mounted at etcd's data directory.
diskSetup:
  filesystems:
    - device: /dev/disk/openstack/by-tag/etcd
      filesystem: ext4
      label: etcd_disk
mounts:
  - - LABEL=etcd_disk
    - /var/lib/etcd
{{- end }}
{{- if or $kubeProxy $etcd.defragSchedule }}
files:
  {{- if $kubeProxy }}
  # kube-proxy's metrics on the node network: kubeadm init makes kube-proxy's
  # configuration from a KubeProxyConfiguration in its config file.
  - path: /run/kubeadm/kube-proxy-configuration.yaml
    owner: root:root
    permissions: "0644"
    content: |
      ---
      apiVersion: kubeproxy.config.k8s.io/v1alpha1
      kind: KubeProxyConfiguration
      metricsBindAddress: 0.0.0.0:10249
  {{- end }}
{{- with $etcd.defragSchedule }}
  - path: /usr/local/sbin/etcd-defrag
    owner: root:root
    permissions: "0755"
    content: |
      {{- include "openstack-cluster.etcdDefragScript" . | nindent 6 }}
  - path: /etc/cron.d/etcd-defrag
    owner: root:root
    permissions: "0644"
    content: |
      # Defragments etcd, one member at a time (/usr/local/sbin/etcd-defrag).
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
      {{ . }} root etcd-defrag 2>&1 | logger -t etcd-defrag
{{- end }}
{{- end }}
{{- if or $etcd.volume $kubeProxy }}
preKubeadmCommands:
  {{- if $etcd.volume }}
  # The preflight check that etcd's directory is empty is skipped (the new
  # file system's lost+found is in it): make sure it is the volume, so that
  # etcd never lands on the root disk when the volume failed to attach.
  - 'mountpoint -q /var/lib/etcd || { echo "the etcd volume is not mounted at /var/lib/etcd: not running kubeadm" >&2; exit 1; }'
  {{- end }}
  {{- if $kubeProxy }}
  # Only kubeadm init reads a KubeProxyConfiguration (joins have no such file).
  - 'if [ -f /run/kubeadm/kubeadm.yaml ]; then cat /run/kubeadm/kube-proxy-configuration.yaml >> /run/kubeadm/kubeadm.yaml; fi'
  {{- end }}
{{- end }}
{{- end }}

{{/*
etcd's tuning and the metrics endpoints of etcd, the controller manager and
the scheduler, under clusterConfiguration. They listen on every address of
the node, which the cluster's security group opens to its own machines only
(see the README). Argument: the etcd value.
*/}}
{{- define "openstack-cluster.etcdAndMetrics" -}}
etcd:
  local:
    extraArgs:
      {{- with .heartbeatIntervalMs }}
      - name: heartbeat-interval
        value: {{ . | int64 | toString | quote }}
      {{- end }}
      {{- with .electionTimeoutMs }}
      - name: election-timeout
        value: {{ . | int64 | toString | quote }}
      {{- end }}
      {{- with .quotaBackendGiB }}
      - name: quota-backend-bytes
        value: {{ mul (int64 .) 1073741824 | toString | quote }}
      {{- end }}
      - name: listen-metrics-urls
        value: http://0.0.0.0:2381
controllerManager:
  extraArgs:
    - name: bind-address
      value: 0.0.0.0
scheduler:
  extraArgs:
    - name: bind-address
      value: 0.0.0.0
{{- end }}

{{/*
The one preflight check kubeadm skips when etcd has a volume: the new file
system's lost+found is in etcd's data directory, which kubeadm wants empty.
Argument: the etcd value.
*/}}
{{- define "openstack-cluster.etcdPreflight" -}}
{{- if .volume }}
ignorePreflightErrors:
  - DirAvailable--var-lib-etcd
{{- end }}
{{- end }}

{{/*
The generated KubeadmConfigSpec of a node group's workers; the group's
pass-through kubeadmConfigSpec is merged over it.
*/}}
{{- define "openstack-cluster.workerKubeadmConfigSpec" -}}
joinConfiguration:
  nodeRegistration:
    {{- include "openstack-cluster.nodeRegistration" . | nindent 4 }}
    {{- with .taints }}
    # Taints are registration-time: a change is a new template and a rollout.
    taints:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- $mounted := list }}
{{- range (.machine | default dict).volumes }}
{{- if .mountPath }}
{{- $mounted = append $mounted . }}
{{- end }}
{{- end }}
{{- with $mounted }}
# Extra volumes with a mountPath, by the link the image makes from the tag
# Nova gives the block device (never a device name like /dev/vdc, which
# depends on the disks before it): a whole-disk filesystem, which cloud-init
# makes on first boot and never over one it finds, mounted by that link (a
# label could not hold every volume name: xfs takes 12 characters).
diskSetup:
  filesystems:
    {{- range . }}
    - device: /dev/disk/openstack/by-tag/{{ .name }}
      filesystem: {{ .filesystem | default "ext4" }}
    {{- end }}
mounts:
  {{- range . }}
  - - /dev/disk/openstack/by-tag/{{ .name }}
    - {{ .mountPath | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
/usr/local/sbin/etcd-defrag on the control plane machines (see the README).
*/}}
{{- define "openstack-cluster.etcdDefragScript" -}}
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
{{- end }}
