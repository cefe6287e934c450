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
The health checks of a MachineHealthCheck: a node that is not Ready for
5 minutes, or never joins within 10, is replaced.
*/}}
{{- define "openstack-cluster.healthChecks" -}}
nodeStartupTimeoutSeconds: 600
unhealthyNodeConditions:
  - type: Ready
    status: Unknown
    timeoutSeconds: 300
  - type: Ready
    status: "False"
    timeoutSeconds: 300
{{- end }}
