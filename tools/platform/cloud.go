package platform

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/internal/cloudconf"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/resolve"
)

// The non-secret sections of cloud.conf and the storage classes, made
// from the site. The secret [Global] section is in the site's credentials
// Secret; docs/storage.md says why it is split this way.

// Cinder CSI's names, as its chart and driver use them.
const (
	// CinderProvisioner is Cinder CSI's driver name.
	CinderProvisioner = "cinder.csi.openstack.org"
	// CinderZoneKey is the topology key of a node's availability zone,
	// which Cinder CSI's node plugin sets from the instance's metadata.
	CinderZoneKey = "topology.cinder.csi.openstack.org/zone"
	// DefaultClassAnnotation marks the cluster's default storage class.
	DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// StorageClassPrefix starts the name of a volume type's class.
	StorageClassPrefix = "csi-cinder-"
)

// The load balancer algorithms of the OpenStack cloud controller's
// lb-method; the ovn provider supports only SOURCE_IP_PORT.
const (
	LBMethodSourceIPPort = "SOURCE_IP_PORT"
	LBProviderOVN        = "ovn"
)

// CACertDir is where the cloud controller and Cinder CSI see the
// machines' trusted CA files (resolve.CloudCADir), the path Cinder CSI's
// chart mounts its host's CA folder at; with spec.cloud.privateCA,
// cloud.conf's ca-file is the cloud's CA there.
const CACertDir = "/etc/cacert"

// caFile is the cloud's CA as the cloud controller and Cinder CSI see it.
var caFile = CACertDir + "/" + resolve.CloudCAName + ".crt"

// globalSection is the site's part of cloud.conf's [Global], beside the
// credentials': the cloud's private CA.
func globalSection(site *load.Site) []cloudconf.Entry {
	if !site.Spec.Cloud.PrivateCA {
		return nil
	}
	return []cloudconf.Entry{{Key: "ca-file", Value: caFile}}
}

// The volumes that show the cloud controller and Cinder CSI the machine's
// trusted CA folder (resolve.CloudCADir) at CACertDir. The cloud
// controller's chart (2.35.0) mounts flexvolume-dir and k8s-certs by
// default (its values' extraVolumes and extraVolumeMounts), kept here as
// the list replaces them; Cinder CSI's (2.35.0) mounts the host's
// /etc/cacert at /etc/cacert (csi.plugin.volumes, whose volumeMounts stay);
// Manila CSI's (2.35.0) mounts nothing of the kind (its plugins' volumes
// and volumeMounts are empty).
func cloudControllerVolumes() []any {
	return []any{
		hostPathVolume("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", ""),
		hostPathVolume("k8s-certs", "/etc/kubernetes/pki", ""),
		hostPathVolume("cacert", resolve.CloudCADir, "DirectoryOrCreate"),
	}
}

func cloudControllerVolumeMounts() []any {
	mount := func(name, path string) any {
		return map[string]any{"name": name, "mountPath": path, "readOnly": true}
	}
	return []any{
		mount("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"),
		mount("k8s-certs", "/etc/kubernetes/pki"),
		mount("cacert", CACertDir),
	}
}

// cloudCAVolumes is the machine's trusted CA folder as the volume cacert;
// cloudCAVolumeMounts mounts it at CACertDir.
func cloudCAVolumes() []any {
	return []any{hostPathVolume("cacert", resolve.CloudCADir, "DirectoryOrCreate")}
}

func cloudCAVolumeMounts() []any {
	return []any{map[string]any{"name": "cacert", "mountPath": CACertDir, "readOnly": true}}
}

func hostPathVolume(name, path, typ string) any {
	hp := map[string]any{"path": path}
	if typ != "" {
		hp["type"] = typ
	}
	return map[string]any{"name": name, "hostPath": hp}
}

// caVolumes is a list of volumes or mounts with a private CA, else nil.
func caVolumes(f Facts, list func() []any) any {
	if !f.PrivateCA {
		return nil
	}
	return list()
}

// loadBalancerSection is cloud.conf's [LoadBalancer] of the site, in the
// order it is written.
func loadBalancerSection(site *load.Site) []cloudconf.Entry {
	out := []cloudconf.Entry{{Key: "floating-network-id", Value: site.Spec.Cloud.ExternalNetworkID}}
	var lb v1alpha1.ServiceLoadBalancers
	if n := site.Spec.Networking; n != nil && n.ServiceLoadBalancers != nil {
		lb = *n.ServiceLoadBalancers
	}
	if lb.Provider != "" {
		out = append(out, cloudconf.Entry{Key: "lb-provider", Value: lb.Provider})
	}
	method := lb.Method
	if method == "" && lb.Provider == LBProviderOVN {
		// The cloud controller's default, ROUND_ROBIN, is refused by OVN.
		method = LBMethodSourceIPPort
	}
	if method != "" {
		out = append(out, cloudconf.Entry{Key: "lb-method", Value: method})
	}
	if lb.CreateMonitor {
		out = append(out, cloudconf.Entry{Key: "create-monitor", Value: "true"})
	}
	return out
}

// blockStorageSection is cloud.conf's [BlockStorage] of the site, as
// Cinder CSI reads it.
func blockStorageSection(site *load.Site) []cloudconf.Entry {
	var out []cloudconf.Entry
	if s := site.Spec.Storage; s != nil {
		if s.IgnoreVolumeAZ {
			out = append(out, cloudconf.Entry{Key: "ignore-volume-az", Value: "true"})
		}
		if s.RescanOnResize {
			out = append(out, cloudconf.Entry{Key: "rescan-on-resize", Value: "true"})
		}
	}
	return out
}

// cloudControllerConfig is the site's part of the cloud controller
// chart's cloudConfig values: every section but global, which valuesFrom
// brings from the credentials Secret. The chart writes them all into the
// one cloud.conf the cloud controller reads.
func cloudControllerConfig(site *load.Site) (map[string]any, error) {
	lb := map[string]any{}
	for _, e := range loadBalancerSection(site) {
		if err := cloudconf.Value(e.Value); err != nil {
			return nil, fmt.Errorf("cloud.conf [LoadBalancer] %s %v", e.Key, err)
		}
		lb[e.Key] = e.Value
	}
	out := map[string]any{"loadBalancer": lb}
	if g := globalSection(site); g != nil {
		// Merged over the credentials' global (valuesFrom comes first).
		global := map[string]any{}
		for _, e := range g {
			global[e.Key] = e.Value
		}
		out["global"] = global
	}
	return out, nil
}

// cinderCloudConf is the site's part of Cinder CSI's cloud.conf, as a
// second file beside the credentials' [Global] (Cinder CSI reads every
// --cloud-config it is given, in order, into one configuration: its
// [Global] ca-file joins the credentials').
func cinderCloudConf(site *load.Site) (string, error) {
	var sections []cloudconf.Section
	if g := globalSection(site); g != nil {
		sections = append(sections, cloudconf.Section{Name: "Global", Entries: g})
	}
	sections = append(sections, cloudconf.Section{Name: "BlockStorage", Entries: blockStorageSection(site)})
	b, err := cloudconf.Write(sections)
	if err != nil {
		return "", fmt.Errorf("cloud.conf %v", err)
	}
	return string(b), nil
}

// StorageClassName is the name of a volume type's storage class.
func StorageClassName(vt v1alpha1.VolumeType) string {
	if vt.StorageClass != "" {
		return vt.StorageClass
	}
	return StorageClassPrefix + strings.ToLower(vt.Name)
}

// ClusterVolumeTypes returns the site's volume types a cluster gets a
// storage class for, in the site's order, and the one whose class is its
// default ("" for none). A name the site does not list is an error (policy
// reports it with its line first).
func ClusterVolumeTypes(site *load.Site, cluster *load.Cluster) ([]v1alpha1.VolumeType, string, error) {
	var offered []v1alpha1.VolumeType
	if site.Spec.Storage != nil {
		offered = site.Spec.Storage.VolumeTypes
	}
	siteDefault := ""
	for _, vt := range offered {
		if vt.Default {
			siteDefault = vt.Name
		}
	}
	cs := cluster.Spec.Storage
	if cs == nil {
		cs = &v1alpha1.ClusterStorage{}
	}
	chosen := offered
	if len(cs.VolumeTypes) > 0 {
		chosen = nil
		for _, n := range cs.VolumeTypes {
			i := slices.IndexFunc(offered, func(vt v1alpha1.VolumeType) bool { return vt.Name == n })
			if i < 0 {
				return nil, "", fmt.Errorf("volume type %q is not one site %s lists in spec.storage.volumeTypes", n, site.Metadata.Name)
			}
			chosen = append(chosen, offered[i])
		}
	}
	has := func(n string) bool {
		return slices.ContainsFunc(chosen, func(vt v1alpha1.VolumeType) bool { return vt.Name == n })
	}
	def := cs.DefaultVolumeType
	if def != "" && !has(def) {
		return nil, "", fmt.Errorf("default volume type %q is not one of the cluster's volume types", def)
	}
	if def == "" && has(siteDefault) {
		def = siteDefault
	}
	return chosen, def, nil
}

// storageClasses renders the storage class of each of the cluster's
// volume types, for Cinder CSI's chart (storageClass.custom: manifests
// the chart writes as they are). Volumes bind when a pod is scheduled, so
// that Cinder CSI creates them in the pod's zone, and the zones the site
// lists for a type restrict where such pods may go. It also says whether
// one of them is the default (then the chart's own class is not).
func storageClasses(site *load.Site, cluster *load.Cluster) (string, bool, error) {
	types, def, err := ClusterVolumeTypes(site, cluster)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	for _, vt := range types {
		sc := &storagev1.StorageClass{
			TypeMeta:             metav1.TypeMeta{APIVersion: storagev1.SchemeGroupVersion.String(), Kind: "StorageClass"},
			ObjectMeta:           metav1.ObjectMeta{Name: StorageClassName(vt)},
			Provisioner:          CinderProvisioner,
			Parameters:           map[string]string{"type": vt.Name},
			ReclaimPolicy:        ptr(corev1.PersistentVolumeReclaimDelete),
			AllowVolumeExpansion: ptr(true),
			VolumeBindingMode:    ptr(storagev1.VolumeBindingWaitForFirstConsumer),
		}
		if vt.Name == def {
			sc.Annotations = map[string]string{DefaultClassAnnotation: "true"}
		}
		if len(vt.AvailabilityZones) > 0 {
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{
				Key: CinderZoneKey, Values: vt.AvailabilityZones,
			}}}}
		}
		y, err := render.MarshalObject(sc)
		if err != nil {
			return "", false, fmt.Errorf("storage class of volume type %s: %v", vt.Name, err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String(), def != "", nil
}
