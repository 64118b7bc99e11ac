// Package upstreams parses the router's map of regional services.
package upstreams

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/platform/router/internal/httpapi"
)

// Parse reads "region/service=url,..." and "region=secret,...". Every
// region must have every service and a secret of at least 16 characters.
func Parse(spec, secrets string, services []string) (map[residency.Region]map[string]httpapi.Upstream, error) {
	sec := map[residency.Region][]byte{}
	for _, kv := range config.List(secrets) {
		name, secret, ok := strings.Cut(kv, "=")
		region, err := residency.ParseRegion(strings.TrimSpace(name))
		if !ok || err != nil {
			return nil, fmt.Errorf("HAVEN_EDGE_SECRETS: entry for %q is not region=secret", strings.TrimSpace(name))
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("HAVEN_EDGE_SECRETS: the %s secret must be at least 16 characters", region)
		}
		sec[region] = []byte(secret)
	}
	out := map[residency.Region]map[string]httpapi.Upstream{}
	for _, kv := range config.List(spec) {
		key, raw, ok := strings.Cut(kv, "=")
		rname, svc, ok2 := strings.Cut(strings.TrimSpace(key), "/")
		region, err := residency.ParseRegion(rname)
		if !ok || !ok2 || err != nil {
			return nil, fmt.Errorf("HAVEN_UPSTREAMS: %q is not region/service=url", key)
		}
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("HAVEN_UPSTREAMS: %s is not an http(s) URL", key)
		}
		if out[region] == nil {
			out[region] = map[string]httpapi.Upstream{}
		}
		out[region][svc] = httpapi.Upstream{URL: u, Secret: sec[region]}
	}
	for _, region := range residency.Regions() {
		if sec[region] == nil {
			return nil, fmt.Errorf("HAVEN_EDGE_SECRETS: no secret for region %s", region)
		}
		for _, svc := range services {
			if _, ok := out[region][svc]; !ok {
				return nil, fmt.Errorf("HAVEN_UPSTREAMS: no URL for %s/%s", region, svc)
			}
		}
	}
	return out, nil
}

// ParsePrefixes parses CIDRs (or single addresses).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("HAVEN_TRUSTED_PROXIES: %q: %w", s, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("HAVEN_TRUSTED_PROXIES: %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
