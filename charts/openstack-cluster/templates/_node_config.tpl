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
(dict "generated" $map "node" $map "passThrough" $map)
*/}}
{{- define "openstack-cluster.mergeKubeadmConfigSpec" -}}
{{- $gen := deepCopy (.generated | default dict) -}}
{{- $node := deepCopy (.node | default dict) -}}
{{- $pass := deepCopy (.passThrough | default dict) -}}
{{- $lists := dict
  "files" (concat ($gen.files | default list) ($node.files | default list) ($pass.files | default list))
  "preKubeadmCommands" (concat ($node.preKubeadmCommands | default list) ($gen.preKubeadmCommands | default list) ($pass.preKubeadmCommands | default list))
  "postKubeadmCommands" (concat ($gen.postKubeadmCommands | default list) ($node.postKubeadmCommands | default list) ($pass.postKubeadmCommands | default list))
-}}
{{- $out := mergeOverwrite $gen $node $pass -}}
{{- range $k, $l := $lists }}
{{- if $l }}
{{- $_ := set $out $k $l }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}
