{{/*
Placement, extra devices and security groups of a machine, at the end of
openstack-cluster.machineSpec (so in the machine template's hash: a change
rolls the group): (dict "root" $ "machine" <controlPlane.machine or
nodeGroups[].machine> "etcd" <etcd, for the control plane>). An etcd volume
already gives the machine a config drive and the only additional block
device of the control plane.
*/}}
{{- define "openstack-cluster.machinePlacement" -}}
{{- $m := .machine | default dict -}}
{{- $sg := .root.Values.securityGroups | default dict -}}
{{- $etcdVolume := and .etcd .etcd.volume -}}
{{- with $m.serverGroup }}
# An existing Nova server group (CAPO v0.13 makes none): its policy spreads
# the machines over hosts.
serverGroup:
  filter:
    name: {{ . | quote }}
{{- end }}
{{- with $m.serverMetadata }}
serverMetadata:
  {{- range . }}
  - key: {{ .key | quote }}
    value: {{ .value | quote }}
  {{- end }}
{{- end }}
{{- if and $m.configDrive (not $etcdVolume) }}
configDrive: true
{{- end }}
{{- with $m.volumes }}
# Raw volumes, found in the guest by their tag: /dev/disk/openstack/by-tag/<name>.
{{- if not $m.configDrive }}
configDrive: true
{{- end }}
additionalBlockDevices:
  {{- range . }}
  - name: {{ .name | quote }}
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
{{- with $m.ports }}
# The first port is on the cluster's network (as CAPO makes it without
# ports); the extra ports follow in order.
ports:
  - {}
  {{- range . }}
  - network:
      filter:
        name: {{ .network | quote }}
    {{- with .vnicType }}
    vnicType: {{ . | quote }}
    {{- end }}
    {{- if .disablePortSecurity }}
    disablePortSecurity: true
    {{- end }}
  {{- end }}
{{- end }}
{{- with $sg.existing }}
# Existing security groups, beside the managed ones (if any).
securityGroups:
  {{- range . }}
  - filter:
      name: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The OpenStackCluster's managedSecurityGroups: CAPO's groups with the rules
Kubernetes needs, open between the cluster's machines, and the cluster's own
rules on every node. Absent when securityGroups.managed is false. CAPO's
webhook lets the rules change in place.
*/}}
{{- define "openstack-cluster.managedSecurityGroups" -}}
{{- $sg := .Values.securityGroups | default dict -}}
{{- if or (not (hasKey $sg "managed")) $sg.managed }}
managedSecurityGroups:
  allowAllInClusterTraffic: true
  {{- with $sg.rules }}
  allNodesSecurityGroupRules:
    {{- range . }}
    - name: {{ .name | quote }}
      {{- with .description }}
      description: {{ . | quote }}
      {{- end }}
      direction: {{ .direction | quote }}
      {{- with .etherType }}
      etherType: {{ . | quote }}
      {{- end }}
      {{- with .protocol }}
      protocol: {{ . | quote }}
      {{- end }}
      {{- with .portRangeMin }}
      portRangeMin: {{ . | int }}
      {{- end }}
      {{- with .portRangeMax }}
      portRangeMax: {{ . | int }}
      {{- end }}
      {{- with .remoteIPPrefix }}
      remoteIPPrefix: {{ . | quote }}
      {{- end }}
      {{- with .remoteManagedGroups }}
      remoteManagedGroups:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}
