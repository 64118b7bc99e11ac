package config

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type testConfig struct {
	Service
	Extra string `conf:"default:fallback"`
}

func TestLoad_ReadsEnvironmentAndMasksSecrets(t *testing.T) {
	oldArgs := os.Args
	os.Args = []string{"identity"}
	t.Cleanup(func() { os.Args = oldArgs })
	t.Setenv("HAVEN_REGION", "sydney")
	t.Setenv("HAVEN_DATABASE_URL", "postgres://identity:hunter2-db-password@db.sydney:5432/identity")
	t.Setenv("HAVEN_EDGE_SECRET", "edge-secret-0123456789")
	t.Setenv("HAVEN_KAFKA_BROKERS", "k0:9092,k1:9092")

	var cfg testConfig
	_, err := Load(&cfg)
	require.NoError(t, err)
	require.Equal(t, "sydney", cfg.Region)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTP.Addr)
	require.Equal(t, []string{"k0:9092", "k1:9092"}, cfg.Kafka.BrokerList())
	require.Equal(t, "fallback", cfg.Extra)
	require.NoError(t, cfg.Validate())

	printed := String(&cfg)
	require.NotContains(t, printed, "hunter2-db-password")
	require.NotContains(t, printed, "edge-secret-0123456789")
	require.True(t, strings.Contains(printed, "sydney"))
}

func TestLoad_EmptyRegionFailsValidation(t *testing.T) {
	oldArgs := os.Args
	os.Args = []string{"identity"}
	t.Cleanup(func() { os.Args = oldArgs })
	t.Setenv("HAVEN_DATABASE_URL", "sqlite:///tmp/x.db")
	t.Setenv("HAVEN_EDGE_SECRET", "edge-secret-0123456789")
	t.Setenv("HAVEN_REGION", "")
	var cfg testConfig
	_, err := Load(&cfg)
	if err == nil {
		err = cfg.Validate()
	}
	require.Error(t, err)
}

func TestValidate_RejectsUnknownRegionAndShortSecret(t *testing.T) {
	require.Error(t, Service{Region: "atlantis", EdgeSecret: strings.Repeat("s", 16)}.Validate())
	require.Error(t, Service{Region: "london", EdgeSecret: "short"}.Validate())
	require.NoError(t, Service{Region: "london", EdgeSecret: strings.Repeat("s", 16)}.Validate())
}
