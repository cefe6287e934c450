{{/*
Node settings (nodeConfig): registry mirrors, pull credentials, trusted CAs
and the proxy, as the files and commands of a KubeadmConfigSpec. Every
machine gets them, the control plane's and every node group's, so that a
change rolls them all (the machines' bootstrap data is their content).
(dict "root" $ "controlPlane" true|false)
*/}}
{{- define "openstack-cluster.nodeConfigSpec" -}}
{{- $n := .root.Values.nodeConfig | default dict -}}
{{- $restart := or $n.trustedCAs $n.proxy -}}
{{- if .controlPlane }}
{{- if or $n.imageRepository $n.proxy }}
clusterConfiguration:
  {{- with $n.imageRepository }}
  # kubeadm pulls the control plane images from here.
  imageRepository: {{ . | quote }}
  {{- end }}
  {{- with $n.proxy }}
  # kubeadm gives its static Pods the environment it runs in; capiform
  # gives them the proxy explicitly (the API server fetches OIDC keys,
  # webhooks and the like through it).
  {{- $env := include "openstack-cluster.proxyEnv" . }}
  apiServer:
    extraEnvs:
      {{- $env | nindent 6 }}
  controllerManager:
    extraEnvs:
      {{- $env | nindent 6 }}
  scheduler:
    extraEnvs:
      {{- $env | nindent 6 }}
  {{- end }}
{{- end }}
{{- end }}
{{- if or $n.registryMirrors $n.registryCredentialsSecret $n.trustedCAs $n.proxy }}
files:
  {{- range $n.registryMirrors }}
  # containerd's registry configuration (its config_path must be
  # /etc/containerd/certs.d, as in the images of Cluster API's image-builder).
  - path: /etc/containerd/certs.d/{{ .registry }}/hosts.toml
    owner: root:root
    permissions: "0644"
    content: |
      # The mirrors of {{ .registry }}, tried in order before it.
      {{- with .server }}
      server = {{ . | quote }}
      {{- end }}
      {{- range .mirrors }}

      [host.{{ .url | quote }}]
        capabilities = ["pull", "resolve"]
        {{- if .overridePath }}
        override_path = true
        {{- end }}
      {{- end }}
  {{- end }}
  {{- with $n.registryCredentialsSecret }}
  # The kubelet's pull credentials (it reads config.json in its root
  # directory) from a kubernetes.io/dockerconfigjson Secret.
  - path: /var/lib/kubelet/config.json
    owner: root:root
    permissions: "0600"
    contentFrom:
      secret:
        name: {{ . | quote }}
        key: .dockerconfigjson
  {{- end }}
  {{- range $n.trustedCAs }}
  - path: /usr/local/share/ca-certificates/{{ .name }}.crt
    owner: root:root
    permissions: "0644"
    {{- if .secret }}
    contentFrom:
      secret:
        name: {{ .secret.name | quote }}
        key: {{ .secret.key | quote }}
    {{- else }}
    content: |
      {{- .pem | trim | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- with $n.proxy }}
  {{- $drop := include "openstack-cluster.proxyDropIn" . }}
  - path: /etc/systemd/system/containerd.service.d/http-proxy.conf
    owner: root:root
    permissions: "0644"
    content: |
      {{- $drop | nindent 6 }}
  - path: /etc/systemd/system/kubelet.service.d/http-proxy.conf
    owner: root:root
    permissions: "0644"
    content: |
      {{- $drop | nindent 6 }}
  # For shells and the operators' tools on the machine.
  - path: /etc/environment
    owner: root:root
    permissions: "0644"
    append: true
    content: |
      {{- range $k, $v := include "openstack-cluster.proxyVars" . | fromYaml }}
      {{ $k }}={{ $v }}
      {{- end }}
  - path: /usr/local/sbin/capiform-no-proxy-endpoint
    owner: root:root
    permissions: "0755"
    content: |
      {{- include "openstack-cluster.noProxyEndpointScript" . | nindent 6 }}
  {{- end }}
{{- end }}
{{- if $restart }}
preKubeadmCommands:
  {{- if $n.trustedCAs }}
  # The system trust store (Debian/Ubuntu, else Red Hat's layout).
  - 'if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; else cp /usr/local/share/ca-certificates/*.crt /etc/pki/ca-trust/source/anchors/ && update-ca-trust extract; fi'
  {{- end }}
  {{- if $n.proxy }}
  - /usr/local/sbin/capiform-no-proxy-endpoint
  {{- end }}
  # containerd reads its proxy and the trust store when it starts.
  - systemctl daemon-reload
  - systemctl restart containerd
{{- end }}
{{- end }}

{{/*
The proxy variables, upper and lower case (programs read either), as YAML:
NAME: value. Argument: the nodeConfig.proxy value.
*/}}
{{- define "openstack-cluster.proxyVars" -}}
{{- with .http }}
HTTP_PROXY: {{ . | quote }}
http_proxy: {{ . | quote }}
{{- end }}
{{- with .https }}
HTTPS_PROXY: {{ . | quote }}
https_proxy: {{ . | quote }}
{{- end }}
NO_PROXY: {{ .noProxy | quote }}
no_proxy: {{ .noProxy | quote }}
{{- end }}

{{/*
A systemd drop-in that gives a service the proxy.
*/}}
{{- define "openstack-cluster.proxyDropIn" -}}
[Service]
{{- range $k, $v := include "openstack-cluster.proxyVars" . | fromYaml }}
Environment="{{ $k }}={{ $v }}"
{{- end }}
{{- end }}

{{/*
The proxy as the extraEnvs of a control plane component (upper case only:
the components are Go programs, which read both).
*/}}
{{- define "openstack-cluster.proxyEnv" -}}
{{- with .http }}
- name: HTTP_PROXY
  value: {{ . | quote }}
{{- end }}
{{- with .https }}
- name: HTTPS_PROXY
  value: {{ . | quote }}
{{- end }}
- name: NO_PROXY
  value: {{ .noProxy | quote }}
{{- end }}

{{/*
/usr/local/sbin/capiform-no-proxy-endpoint: the API server's endpoint is
known only on the machine (a floating IP or load balancer address that
OpenStack assigns), in the kubeadm configuration Cluster API writes.
*/}}
{{- define "openstack-cluster.noProxyEndpointScript" -}}
#!/bin/sh
# Adds the host of the cluster's API server endpoint to the no-proxy lists
# of containerd, the kubelet and /etc/environment, so that joining and
# talking to the API server never goes through the proxy.
# Written by the openstack-cluster chart; run before kubeadm.
set -eu
endpoint=$(sed -n -e 's/^[[:space:]]*\(controlPlaneEndpoint\|apiServerEndpoint\):[[:space:]]*//p' \
  /run/kubeadm/kubeadm.yaml /run/kubeadm/kubeadm-join-config.yaml 2>/dev/null | head -n 1 | tr -d "\"'")
host=${endpoint%:*}
host=${host#[}
host=${host%]}
if [ -z "$host" ]; then
  echo "no API server endpoint in the kubeadm configuration" >&2
  exit 1
fi
for f in /etc/systemd/system/containerd.service.d/http-proxy.conf \
  /etc/systemd/system/kubelet.service.d/http-proxy.conf /etc/environment; do
  sed -i -e "s|\(NO_PROXY=[^\"]*\)|\1,$host|" -e "s|\(no_proxy=[^\"]*\)|\1,$host|" "$f"
done
{{- end }}

{{/*
A KubeadmConfigSpec of generated settings, node settings and the operator's
pass-through, merged: maps key by key (the later wins), and the lists of
files and commands concatenated (node settings' commands first, so that
containerd has its proxy and trust before anything pulls; the
pass-through's last), never replaced.
(dict "generated" $map "node" $map "kubeadm" $map "passThrough" $map)
*/}}
{{- define "openstack-cluster.mergeKubeadmConfigSpec" -}}
{{- $gen := deepCopy (.generated | default dict) -}}
{{- $node := deepCopy (.node | default dict) -}}
{{- $pass := deepCopy (.passThrough | default dict) -}}
{{- $kubeadm := deepCopy (.kubeadm | default dict) -}}
{{- $lists := dict
  "files" (concat ($gen.files | default list) ($node.files | default list) ($kubeadm.files | default list) ($pass.files | default list))
  "preKubeadmCommands" (concat ($node.preKubeadmCommands | default list) ($kubeadm.preKubeadmCommands | default list) ($gen.preKubeadmCommands | default list) ($pass.preKubeadmCommands | default list))
  "postKubeadmCommands" (concat ($gen.postKubeadmCommands | default list) ($node.postKubeadmCommands | default list) ($kubeadm.postKubeadmCommands | default list) ($pass.postKubeadmCommands | default list))
-}}
{{- /* The API server's arguments and volumes add up too (OIDC's, the audit log's...). */ -}}
{{- $api := dict -}}
{{- range $k := list "extraArgs" "extraVolumes" }}
{{- $l := list }}
{{- range $m := list $gen $node $kubeadm $pass }}
{{- $l = concat $l ((($m.clusterConfiguration | default dict).apiServer | default dict) | dig $k list) }}
{{- end }}
{{- if $l }}{{ $_ := set $api $k $l }}{{ end }}
{{- end }}
{{- $out := mergeOverwrite $gen $node $kubeadm $pass -}}
{{- range $k, $l := $lists }}
{{- if $l }}
{{- $_ := set $out $k $l }}
{{- end }}
{{- end }}
{{- range $k, $l := $api }}
{{- $_ := set $out.clusterConfiguration.apiServer $k $l }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
kubeadm settings of one kind of machine: the KubeletConfiguration patch
(kubeadm's patches folder, applied by init and join), the kubeadm patches of
the escape hatch, and on the control plane its taints, the API server's
admission configuration, audit log and encryption of Secrets at rest.
(dict "root" $ "controlPlane" true|false "kubelet" $kubeletConfig)
*/}}
{{- define "openstack-cluster.kubeadmSettingsSpec" -}}
{{- $v := .root.Values -}}
{{- $cp := .controlPlane -}}
{{- $patches := list -}}
{{- range $v.kubeadmPatches }}
{{- if or $cp (eq .target "kubeletconfiguration") }}
{{- $patches = append $patches . }}
{{- end }}
{{- end }}
{{- $sec := $v.apiServerSecurity | default dict -}}
{{- $taints := list -}}
{{- if $cp }}{{ $taints = $v.controlPlane.taints | default list }}{{ end -}}
{{- $patchDir := or .kubelet $patches -}}
{{- if or $patchDir $taints }}
{{- range $phase := list "initConfiguration" "joinConfiguration" }}
{{- if or $cp (eq $phase "joinConfiguration") }}
{{ $phase }}:
  {{- if $patchDir }}
  patches:
    directory: /etc/kubernetes/patches
  {{- end }}
  {{- if $taints }}
  nodeRegistration:
    # kubeadm's own control-plane taint stays; these are added.
    taints:
      - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
      {{- toYaml $taints | nindent 6 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $cp (or $sec.podSecurity $sec.audit $sec.encryption) }}
clusterConfiguration:
  apiServer:
    extraArgs:
      {{- if $sec.podSecurity }}
      - {name: admission-control-config-file, value: /etc/kubernetes/admission/admission.yaml}
      {{- end }}
      {{- with $sec.audit }}
      - {name: audit-policy-file, value: /etc/kubernetes/audit/policy.yaml}
      - {name: audit-log-path, value: /var/log/kubernetes/audit/audit.log}
      - {name: audit-log-maxage, value: {{ .maxAgeDays | int | toString | quote }}}
      - {name: audit-log-maxbackup, value: {{ .maxBackups | int | toString | quote }}}
      - {name: audit-log-maxsize, value: {{ .maxSizeMiB | int | toString | quote }}}
      {{- end }}
      {{- if $sec.encryption }}
      - {name: encryption-provider-config, value: /etc/kubernetes/encryption/config.yaml}
      {{- end }}
    extraVolumes:
      {{- if $sec.podSecurity }}
      - {name: admission, hostPath: /etc/kubernetes/admission, mountPath: /etc/kubernetes/admission, readOnly: true, pathType: Directory}
      {{- end }}
      {{- if $sec.audit }}
      - {name: audit-policy, hostPath: /etc/kubernetes/audit, mountPath: /etc/kubernetes/audit, readOnly: true, pathType: Directory}
      - {name: audit-log, hostPath: /var/log/kubernetes/audit, mountPath: /var/log/kubernetes/audit, pathType: DirectoryOrCreate}
      {{- end }}
      {{- if $sec.encryption }}
      - {name: encryption, hostPath: /etc/kubernetes/encryption, mountPath: /etc/kubernetes/encryption, readOnly: true, pathType: Directory}
      {{- end }}
{{- end }}
{{- $files := or .kubelet $patches (and $cp (or $sec.podSecurity $sec.audit $sec.encryption)) }}
{{- if $files }}
files:
  {{- with .kubelet }}
  # The KubeletConfiguration of this kind of machine (a JSON merge patch).
  - path: /etc/kubernetes/patches/kubeletconfiguration0+merge.yaml
    owner: root:root
    permissions: "0644"
    content: |
      {{- toYaml . | nindent 6 }}
  {{- end }}
  {{- range $patches }}
  # A kubeadm patch of the cluster's definition (spec.kubeadmPatches).
  - path: /etc/kubernetes/patches/{{ .file }}
    owner: root:root
    permissions: "0644"
    content: |
      {{- if eq .type "json" }}
      {{- toJson .patch | nindent 6 }}
      {{- else }}
      {{- toYaml .patch | nindent 6 }}
      {{- end }}
  {{- end }}
  {{- if $cp }}
  {{- with $sec.podSecurity }}
  - path: /etc/kubernetes/admission/admission.yaml
    owner: root:root
    permissions: "0644"
    content: |
      apiVersion: apiserver.config.k8s.io/v1
      kind: AdmissionConfiguration
      plugins:
        - name: PodSecurity
          configuration:
            apiVersion: pod-security.admission.config.k8s.io/v1
            kind: PodSecurityConfiguration
            defaults:
              {{- range $mode := list "enforce" "audit" "warn" }}
              {{- with get $.root.Values.apiServerSecurity.podSecurity $mode }}
              {{ $mode }}: {{ . | quote }}
              {{ $mode }}-version: latest
              {{- end }}
              {{- end }}
            exemptions:
              namespaces: {{ .exemptNamespaces | default list | toJson }}
  {{- end }}
  {{- with $sec.audit }}
  - path: /etc/kubernetes/audit/policy.yaml
    owner: root:root
    permissions: "0644"
    content: |
      {{- include "openstack-cluster.auditPolicy" . | nindent 6 }}
  {{- end }}
  {{- with $sec.encryption }}
  # The key, from its Secret; /usr/local/sbin/capiform-encryption-config
  # makes the EncryptionConfiguration of it and removes it.
  - path: /etc/kubernetes/encryption/key
    owner: root:root
    permissions: "0600"
    contentFrom:
      secret:
        name: {{ .keySecret.name | quote }}
        key: {{ .keySecret.key | quote }}
  - path: /usr/local/sbin/capiform-encryption-config
    owner: root:root
    permissions: "0700"
    content: |
      {{- include "openstack-cluster.encryptionScript" . | nindent 6 }}
  {{- end }}
  {{- end }}
{{- end }}
{{- if and $cp $sec.encryption }}
preKubeadmCommands:
  - /usr/local/sbin/capiform-encryption-config
{{- end }}
{{- end }}

{{/*
The audit policy: health checks and the API server's own reads are not
recorded; Secrets, ConfigMaps and token reviews only at Metadata, whatever
the level, so that their content never reaches the log; everything else at
the level. Argument: the apiServerSecurity.audit value.
*/}}
{{- define "openstack-cluster.auditPolicy" -}}
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
  - level: None
    users: ["system:apiserver"]
    verbs: [get, list, watch]
  - level: Metadata
    resources:
      - {group: "", resources: [secrets, configmaps]}
      - {group: authentication.k8s.io, resources: [tokenreviews]}
  - level: {{ .level }}
{{- end }}

{{/*
/usr/local/sbin/capiform-encryption-config. Argument: the
apiServerSecurity.encryption value.
*/}}
{{- define "openstack-cluster.encryptionScript" -}}
#!/bin/sh
# Writes the API server's EncryptionConfiguration from the key Cluster API
# put in /etc/kubernetes/encryption/key (from the Secret the cluster's
# definition names), then removes the key file. Secrets are encrypted with
# {{ .provider }}; the identity provider after it reads Secrets written before
# encryption was turned on. Written by the openstack-cluster chart.
set -eu
umask 077
dir=/etc/kubernetes/encryption
key=$(tr -d ' \r\n' < "$dir/key")
if [ "$(printf '%s' "$key" | base64 -d 2>/dev/null | wc -c)" -ne 32 ]; then
  echo "the encryption key is not 32 bytes, base64-encoded: not running kubeadm" >&2
  exit 1
fi
cat > "$dir/config.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - {{ .provider }}:
          keys:
            - name: key1
              secret: $key
      - identity: {}
EOF
rm -f "$dir/key"
{{- end }}
