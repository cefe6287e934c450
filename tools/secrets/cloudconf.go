package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/capiform/capiform/tools/internal/cloudconf"
)

// cloudsFile is the part of clouds.yaml that cloud.conf is derived from.
type cloudsFile struct {
	Clouds map[string]cloudEntry `yaml:"clouds"`
}

type cloudEntry struct {
	Auth       map[string]string `yaml:"auth"`
	RegionName string            `yaml:"region_name"`
	Verify     *bool             `yaml:"verify"`
}

// confKeys maps clouds.yaml auth keys to the [Global] keys of the
// OpenStack cloud controller's and Cinder CSI's cloud.conf, in the order
// they are written.
var confKeys = []struct{ auth, conf string }{
	{"auth_url", "auth-url"},
	{"application_credential_id", "application-credential-id"},
	{"application_credential_name", "application-credential-name"},
	{"application_credential_secret", "application-credential-secret"},
	{"user_id", "user-id"},
	{"username", "username"},
	{"password", "password"},
	{"user_domain_id", "user-domain-id"},
	{"user_domain_name", "user-domain-name"},
	{"project_id", "tenant-id"},
	{"project_name", "tenant-name"},
	{"project_domain_id", "tenant-domain-id"},
	{"project_domain_name", "tenant-domain-name"},
	{"domain_id", "domain-id"},
	{"domain_name", "domain-name"},
}

// CloudConf derives cloud.conf's [Global] section, the credentials of the
// OpenStack cloud controller and Cinder CSI, from the entry cloudName of
// clouds.yaml, so that the keys of a credentials Secret say the same.
// region, when not empty, overrides the entry's region_name. Its errors
// name keys, never a value. The other sections come from the site, in the
// charts' values (docs/storage.md).
func CloudConf(cloudsYAML []byte, cloudName, region string) ([]byte, error) {
	g, err := global(cloudsYAML, cloudName, region)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("[Global]\n")
	for _, e := range g {
		if e.Key == tlsInsecure {
			b.WriteString("tls-insecure=true\n")
			continue
		}
		q, err := cloudconf.Quote(e.Value)
		if err != nil {
			return nil, err // global checked every value
		}
		fmt.Fprintf(&b, "%s=%s\n", e.Key, q)
	}
	return b.Bytes(), nil
}

// CloudConfValues derives the same [Global] section as the values of the
// openstack-cloud-controller-manager chart (cloudConfig.global), for
// valuesFrom without a targetPath: the chart writes cloud.conf from
// cloudConfig's sections, of which the others come from the site, and the
// cloud controller reads one file only.
func CloudConfValues(cloudsYAML []byte, cloudName, region string) ([]byte, error) {
	g, err := global(cloudsYAML, cloudName, region)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range g {
		m[e.Key] = e.Value
	}
	b, err := yaml.Marshal(map[string]any{"cloudConfig": map[string]any{"global": m}})
	if err != nil {
		return nil, errors.New("the cloud controller's values cannot be written")
	}
	return b, nil
}

const tlsInsecure = "tls-insecure"

// global is the [Global] section of the entry cloudName of clouds.yaml,
// every value checked.
func global(cloudsYAML []byte, cloudName, region string) ([]cloudconf.Entry, error) {
	var f cloudsFile
	if err := yaml.Unmarshal(cloudsYAML, &f); err != nil {
		return nil, errors.New("clouds.yaml is not a YAML map of clouds (the parser's message is not shown: it may quote a value)")
	}
	if cloudName == "" {
		cloudName = "openstack"
	}
	c, ok := f.Clouds[cloudName]
	if !ok {
		return nil, fmt.Errorf("clouds.yaml has no cloud %q (the site's spec.cloud.cloudName)", cloudName)
	}
	if c.Auth["auth_url"] == "" {
		return nil, fmt.Errorf("clouds.yaml: cloud %q has no auth.auth_url", cloudName)
	}
	appCred := c.Auth["application_credential_secret"] != ""
	if !appCred && c.Auth["password"] == "" {
		return nil, fmt.Errorf("clouds.yaml: cloud %q has neither an application credential nor a password", cloudName)
	}
	known := map[string]bool{}
	var out []cloudconf.Entry
	for _, k := range confKeys {
		known[k.auth] = true
		v := c.Auth[k.auth]
		if v == "" {
			continue
		}
		if err := cloudconf.Value(v); err != nil {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: auth.%s %w", cloudName, k.auth, err)
		}
		out = append(out, cloudconf.Entry{Key: k.conf, Value: v})
	}
	for _, k := range slices.Sorted(maps.Keys(c.Auth)) {
		if !known[k] {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: auth.%s has no place in cloud.conf: remove it, or write the cloud.conf key by hand", cloudName, k)
		}
	}
	if region == "" {
		region = c.RegionName
	}
	if region != "" {
		if err := cloudconf.Value(region); err != nil {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: region %w", cloudName, err)
		}
		out = append(out, cloudconf.Entry{Key: "region", Value: region})
	}
	if c.Verify != nil && !*c.Verify {
		out = append(out, cloudconf.Entry{Key: tlsInsecure, Value: "true"})
	}
	return out, nil
}
