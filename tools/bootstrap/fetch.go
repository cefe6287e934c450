package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// HelmRepositoryFetcher fetches charts from Helm repositories: the
// repository's index.yaml, then the chart's archive, checked against the
// index's digest. oci:// repositories are pulled with Helm's registry
// client. Archives are kept in CacheDir (when set) and read from there on
// a later fetch, so a rerun of bootstrap needs no network for them.
type HelmRepositoryFetcher struct {
	// CacheDir keeps fetched archives; empty: nothing is cached.
	CacheDir string
	// Client is the HTTP client; nil: one with a 2 minute timeout.
	Client *http.Client
}

// DefaultChartCache is the cache folder of fetched charts:
// <user cache dir>/capiform/charts (for example ~/.cache/capiform/charts),
// or "" when the system has no cache folder.
func DefaultChartCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "capiform", "charts")
}

// Fetch implements ChartFetcher.
func (f HelmRepositoryFetcher) Fetch(ctx context.Context, repoURL, name, version string) (*chart.Chart, error) {
	if name == "" || version == "" {
		return nil, fmt.Errorf("chart %q from %s: a name and an exact version are needed", name, repoURL)
	}
	cached := ""
	if f.CacheDir != "" {
		cached = filepath.Join(f.CacheDir, cacheKey(repoURL), name+"-"+version+".tgz")
		if raw, err := os.ReadFile(cached); err == nil {
			if ch, err := loadArchive(raw, name, version); err == nil {
				return ch, nil
			}
		}
	}
	var raw []byte
	var err error
	if strings.HasPrefix(repoURL, "oci://") {
		raw, err = f.pullOCI(repoURL, name, version)
	} else {
		raw, err = f.fromIndex(ctx, repoURL, name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, repoURL, err)
	}
	ch, err := loadArchive(raw, name, version)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, version, repoURL, err)
	}
	if cached != "" {
		if err := writeFileAtomic(cached, raw, 0o644); err != nil {
			return nil, fmt.Errorf("caching chart %s %s: %w", name, version, err)
		}
	}
	return ch, nil
}

func loadArchive(raw []byte, name, version string) (*chart.Chart, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if ch.Metadata == nil || ch.Metadata.Name != name || strings.TrimPrefix(ch.Metadata.Version, "v") != strings.TrimPrefix(version, "v") {
		got := "no metadata"
		if ch.Metadata != nil {
			got = ch.Metadata.Name + " " + ch.Metadata.Version
		}
		return nil, fmt.Errorf("the archive holds %s", got)
	}
	return ch, nil
}

func cacheKey(repoURL string) string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(repoURL, "/")))
	return hex.EncodeToString(sum[:8])
}

func (f HelmRepositoryFetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return &http.Client{Timeout: 2 * time.Minute}
}

func (f HelmRepositoryFetcher) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func (f HelmRepositoryFetcher) fromIndex(ctx context.Context, repoURL, name, version string) ([]byte, error) {
	base := strings.TrimSuffix(repoURL, "/")
	raw, err := f.get(ctx, base+"/index.yaml")
	if err != nil {
		return nil, err
	}
	var idx repo.IndexFile
	if err := yaml.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index.yaml: %w", err)
	}
	// Exact versions only: the catalogue pins them, and Helm's index would
	// otherwise fall back to a "closest" version.
	var cv *repo.ChartVersion
	var have []string
	for _, v := range idx.Entries[name] {
		if v == nil || v.Metadata == nil {
			continue
		}
		have = append(have, v.Version)
		if v.Version == version {
			cv = v
		}
	}
	if cv == nil {
		if len(have) == 0 {
			return nil, errors.New("the repository's index has no such chart")
		}
		return nil, fmt.Errorf("the repository's index has no version %s (it has %s)", version, strings.Join(firstN(have, 10), ", "))
	}
	if len(cv.URLs) == 0 {
		return nil, errors.New("the index names no URL for it")
	}
	url, err := repo.ResolveReferenceURL(base+"/", cv.URLs[0])
	if err != nil {
		return nil, err
	}
	archive, err := f.get(ctx, url)
	if err != nil {
		return nil, err
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(archive)
		if got := hex.EncodeToString(sum[:]); got != cv.Digest {
			return nil, fmt.Errorf("%s: digest %s, the index says %s", url, got, cv.Digest)
		}
	}
	return archive, nil
}

func (f HelmRepositoryFetcher) pullOCI(repoURL, name, version string) ([]byte, error) {
	c, err := registry.NewClient()
	if err != nil {
		return nil, err
	}
	ref := strings.TrimSuffix(strings.TrimPrefix(repoURL, "oci://"), "/") + "/" + name + ":" + version
	res, err := c.Pull(ref)
	if err != nil {
		return nil, err
	}
	if res.Chart == nil || len(res.Chart.Data) == 0 {
		return nil, fmt.Errorf("%s: no chart layer", ref)
	}
	return res.Chart.Data, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}
