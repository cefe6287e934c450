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
(dict "root" $ "flavor" ... "image" ... "rootVolume" ... "etcd" ...).
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
{{- printf "%s-%s-%s" .root.Values.clusterName .group (.content | sha256sum | trunc 8) -}}
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
{{- with $v.oidc }}
clusterConfiguration:
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
initConfiguration:
  nodeRegistration:
    {{- include "openstack-cluster.nodeRegistration" . | nindent 4 }}
joinConfiguration:
  nodeRegistration:
    {{- include "openstack-cluster.nodeRegistration" . | nindent 4 }}
{{- if and $v.etcd $v.etcd.volume }}
# The etcd volume is the first additional block device: /dev/vdb on KVM.
diskSetup:
  partitions:
    - device: /dev/vdb
      layout: true
      overwrite: false
      tableType: gpt
  filesystems:
    - device: /dev/vdb1
      filesystem: ext4
      label: etcd_disk
mounts:
  - - LABEL=etcd_disk
    - /var/lib/etcd
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
{{- end }}
