// Package secrets keeps the Secrets clusters need in the repository,
// encrypted with SOPS for each site's age recipients, and checks them.
//
// A site that sets spec.secrets.ageRecipients keeps one folder per cluster,
// clusters/<site>/secrets/<cluster>/, of SOPS-encrypted Kubernetes Secret
// manifests (<name>.sops.yaml) in the cluster's namespace. render copies
// them, byte for byte, into the generated tree, where kustomize-controller
// decrypts them (spec.decryption, the sops-age Secret of flux-system).
//
// There is one file per cluster namespace, not one per site, because the
// ciphertext cannot be moved: SOPS's MAC covers every value of the file,
// the clear metadata.namespace too, and kustomize-controller checks it
// after kustomize built the folder, so a namespace set by render, by a
// kustomize namespace transformer or by Flux's targetNamespace makes
// decryption fail ("failed to verify sops data integrity"). A site-wide
// credential is therefore written once per cluster by `capiform secrets`,
// on the operator's machine, where the plaintext is at hand.
//
// What runs on untrusted input (validate, render, diff) never has a key:
// Inspect and ScanClear work on ciphertext and SOPS metadata only. The
// operations that need the age identity (create, rotate, updatekeys,
// check) are in ops.go; none of them puts a value in an error.
package secrets

import (
	"path"
	"strings"

	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// Dir is a site's folder of encrypted Secrets.
const Dir = "secrets"

// Ext ends the name of every encrypted file.
const Ext = ".sops.yaml"

// EncryptedRegex is the encrypted_regex of every file: only the values are
// encrypted, so that kind, name and namespace stay readable to validate,
// diff and reviewers (the MAC still covers them).
const EncryptedRegex = "^(data|stringData)$"

// Keys of the cloud credentials Secret: clouds.yaml, and two keys derived
// from it. cloud.conf is its [Global] section for Cinder CSI (which reads
// the site's [BlockStorage] from a second file); CloudConfValuesKey is
// the same section as the cloud controller chart's values, which that
// chart merges with the site's [LoadBalancer] into the one file the cloud
// controller reads.
const (
	CloudsYAMLKey      = "clouds.yaml"
	CloudConfKey       = "cloud.conf"
	CloudConfValuesKey = "cloud-conf-values.yaml"
	// CACertKey is the CA bundle of a cloud behind a private CA, the key
	// the OpenStack provider reads from its identity Secret beside
	// clouds.yaml (and capi-helm-charts' credentials Secret has when its
	// cloudCACert was set).
	CACertKey = resolve.CloudCAKey
)

// DecryptionSecret is the Secret in flux-system holding the site's age
// private key, named by every Kustomization that decrypts.
const DecryptionSecret = "sops-age"

// DecryptionKey is the key of DecryptionSecret that kustomize-controller
// reads an age identity from (any key ending in .agekey).
const DecryptionKey = "age.agekey"

// SiteDir returns clusters/<site>/secrets.
func SiteDir(site string) string { return path.Join(load.ClustersDir, site, Dir) }

// FilePath returns the file of a Secret of a cluster.
func FilePath(site, cluster, name string) string {
	return path.Join(SiteDir(site), cluster, name+Ext)
}

// GeneratedDir is the folder of a cluster's Secrets in the generated tree,
// relative to clusters/<site>/generated.
func GeneratedDir(cluster string) string { return path.Join(Dir, cluster) }

// File is one encrypted Secret of a cluster, as read without a key.
type File struct {
	// Path is the file, relative to the repository root.
	Path string
	// Cluster is the cluster whose folder it is in.
	Cluster string
	// Name and Namespace are the Secret's (clear, MAC-covered) metadata.
	Name, Namespace string
	// Content is the file as it is in the repository.
	Content []byte
	// Values maps data.<key> and stringData.<key> to their ciphertext.
	Values map[string]string
	// Recipients are the age recipients of the SOPS metadata, sorted.
	Recipients []string
}

// Site is what a site holds: its encrypted files by cluster.
type Site struct {
	Files map[string][]*File
}

// ClusterFiles returns the files of a cluster, sorted by name.
func (s *Site) ClusterFiles(cluster string) []*File {
	if s == nil {
		return nil
	}
	return s.Files[cluster]
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}
