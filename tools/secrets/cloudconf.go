package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
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

// CloudConf derives cloud.conf, the configuration of the OpenStack cloud
// controller and Cinder CSI, from the entry cloudName of clouds.yaml, so
// that both keys of a credentials Secret say the same. region, when not
// empty, overrides the entry's region_name. Its errors name keys, never a
// value.
func CloudConf(cloudsYAML []byte, cloudName, region string) ([]byte, error) {
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
	var b bytes.Buffer
	b.WriteString("[Global]\n")
	for _, k := range confKeys {
		known[k.auth] = true
		v := c.Auth[k.auth]
		if v == "" {
			continue
		}
		q, err := quote(v)
		if err != nil {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: auth.%s %w", cloudName, k.auth, err)
		}
		fmt.Fprintf(&b, "%s=%s\n", k.conf, q)
	}
	for k := range c.Auth {
		if !known[k] {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: auth.%s has no place in cloud.conf: remove it, or write the cloud.conf key by hand", cloudName, k)
		}
	}
	if region == "" {
		region = c.RegionName
	}
	if region != "" {
		q, err := quote(region)
		if err != nil {
			return nil, fmt.Errorf("clouds.yaml: cloud %q: region %w", cloudName, err)
		}
		fmt.Fprintf(&b, "region=%s\n", q)
	}
	if c.Verify != nil && !*c.Verify {
		b.WriteString("tls-insecure=true\n")
	}
	return b.Bytes(), nil
}

// quote writes a value as a gcfg (INI) string: quoted, with backslashes
// and quotes escaped. A line break cannot be written.
func quote(v string) (string, error) {
	if strings.ContainsAny(v, "\n\r\x00") {
		return "", errors.New("holds a line break, which cloud.conf cannot carry")
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`, nil
}
