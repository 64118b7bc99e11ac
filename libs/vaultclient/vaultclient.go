// Package vaultclient opens the region's Vault with the official client:
// with a token (devstack, tests) or, in Kubernetes, by logging in with the
// pod's service-account token to the service's Kubernetes-auth role.
package vaultclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/havenhealth/haven/libs/config"
)

// ServiceAccountTokenPath is where Kubernetes mounts the pod's token.
const ServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Open returns a client for cfg. It does not need Vault to be up: a Vault
// outage shows as ErrUnavailable on the first key operation.
func Open(ctx context.Context, cfg config.Vault) (*vaultapi.Client, error) {
	vc := vaultapi.DefaultConfig()
	vc.Address = cfg.Addr
	vc.Timeout = 5 * time.Second
	vc.MaxRetries = 1
	c, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	switch {
	case cfg.Token != "":
		c.SetToken(cfg.Token)
	case cfg.Role != "":
		jwt, err := os.ReadFile(ServiceAccountTokenPath)
		if err != nil {
			return nil, fmt.Errorf("vault kubernetes auth: read service-account token: %w", err)
		}
		s, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/login",
			map[string]any{"role": cfg.Role, "jwt": strings.TrimSpace(string(jwt))})
		if err != nil {
			return nil, fmt.Errorf("vault kubernetes auth login as %s: %w", cfg.Role, err)
		}
		if s == nil || s.Auth == nil {
			return nil, errors.New("vault kubernetes auth: no token in the answer")
		}
		c.SetToken(s.Auth.ClientToken)
	default:
		return nil, errors.New("vault: set HAVEN_VAULT_TOKEN or HAVEN_VAULT_ROLE")
	}
	return c, nil
}
