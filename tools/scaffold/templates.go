package scaffold

// The example site: every field an operator must fill in carries a
// comment; the values are placeholders that validate and render, so that
// the first `capiform render` works before any is changed.
const siteYAML = `# yaml-language-server: $schema=../../policies/schema.json
# A site: one OpenStack cloud (or region) and the self-managed management
# cluster that runs it. Laid out by capiform init; replace every value
# marked "placeholder" with your cloud's. Run "capiform validate" after
# each change and "capiform render" before you commit.
apiVersion: capiform.dev/v1alpha1
kind: Site
metadata:
  name: {{.Site}}
spec:
  # The Cluster of this site (a file beside this one) that runs Cluster API
  # and Flux for every cluster of the site, itself included.
  managementCluster: {{.Mgmt}}
  cloud:
    # The Secret, in each cluster's namespace on the management cluster,
    # with the keys clouds.yaml and cloud.conf. Only its name is in git.
    credentialsSecret: {{.Site}}-cloud-credentials
    # placeholder: the Neutron network of floating IPs
    # (openstack network list --external).
    externalNetworkId: 00000000-0000-0000-0000-000000000000
    # placeholder: the Nova keypair put on every machine.
    sshKeyName: ops
    # A cloud whose endpoints have certificates of a private CA: set
    # privateCA: true and give the CA with capiform secrets create --cacert.
    # privateCA: true
  # The Glance image of each Kubernetes version clusters may run.
  images:
    - {kubernetesVersion: v1.36.1, name: ubuntu-2404-kube-v1.36.1} # placeholder
  # The Nova flavors on offer, with their sizes (the autoscaler's scale
  # from zero needs them): openstack flavor list.
  flavors:
    - {name: standard.small, vcpus: 2, ramMiB: 4096} # placeholder
    - {name: standard.large, vcpus: 8, ramMiB: 32768} # placeholder
  # The window of versions clusters may run; policy refuses others.
  kubernetesVersions: {min: v1.36.0, max: v1.36.99}
  quotas: {machinesPerCluster: 20, machinesPerSite: 40}
  # Platforms (platforms/<name>/) every cluster must have.
  requiredPlatforms: [base]
  # The repository the site's Flux syncs: this one.
  git:
    url: {{.GitURL}}
    secretName: flux-system
`

const mgmtYAML = `# yaml-language-server: $schema=../../policies/schema.json
# The management cluster of site {{.Site}}: a Cluster API cluster that holds
# its own Cluster API objects and runs Flux. "capiform bootstrap {{.Site}}"
# creates it (docs/bootstrap.md of capiform). Other clusters of the site are
# files like this one beside it.
apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: {{.Mgmt}}
spec:
  # A version of the site's image catalogue and window.
  kubernetesVersion: v1.36.1
  # One control plane machine; a production site (spec.production) needs 3.
  controlPlane: {flavor: standard.small}
  nodeGroups:
    - {name: md-0, flavor: standard.large, replicas: 2}
  apiServer:
    # placeholder: who may reach the API server's load balancer.
    allowedCIDRs: [10.0.0.0/8]
  platforms:
    - name: base
`

const platformsREADME = `# Platforms

A platform is a named bundle of addons (Helm charts, or folders of plain
manifests) that Flux installs into a workload cluster; a cluster chooses
platforms in its definition (spec.platforms). base, laid out by
capiform init {{.Info.Version}}, is what every cluster needs before a node
becomes Ready: the CNI (Calico or Cilium), the OpenStack cloud controller,
Cinder CSI and metrics-server.

Add a platform as platforms/<name>/platform.yaml; capiform's own
repository holds more (monitoring, ingress, gpu, network, dashboard,
datascience) to copy from, and its platforms/README.md describes the
format. A change of a platform reaches every cluster that uses it with the
next render.
`

const policiesREADME = `# Policies

capiform validates every definition against the schemas and the site
policy built into the capiform binary (policies {{.PolicyVersion}} in
capiform {{.Info.Version}}; "capiform version" names the ones CI runs).
They are not files of this repository: upgrading capiform upgrades them.

A site tightens them with its own CUE, clusters/<site>/policy.cue, a file
of package policies unified with the base policy for that site only. It
can only add constraints, never loosen one. For example, to have every
node group of a site autoscale:

    package policies

    #ClusterRules: X={
    	for i, g in X.groups if g.group.autoscale == _|_ {
    		violations: "spec.nodeGroups[\(i)].autoscale": "site.autoscale": "node group \(g.group.name) must autoscale on this site"
    	}
    }

schema.json here is the JSON Schema of the definition kinds for editors
(the definitions name it on their first line); after upgrading capiform,
refresh it with "capiform schema > policies/schema.json". This folder is
also the place for the fleet's notes on its own policy: what each site's
policy.cue requires and why.
`
