package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// syncBuffer lets the test read logs the service is still writing.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRun_ServesInfoAndHealthThenStops(t *testing.T) {
	cfg := config.Service{
		Region:     "london",
		HTTP:       config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second},
		Database:   config.Database{URL: storetest.URL(t)},
		Redis:      config.Redis{URL: os.Getenv("HAVEN_TEST_REDIS_URL")},
		EdgeSecret: "london-edge-secret-0123",
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, service.Spec{Name: "billing", Version: "v-test", Migrations: os.DirFS("../store/testdata/migrations"), LogOutput: &logs},
			cfg, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("service stopped early: %v\n%s", err, logs.String())
	}

	resp, err := http.Get("http://" + addr + "/v1/info")
	require.NoError(t, err)
	var info service.Info
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	resp.Body.Close()
	require.Equal(t, service.Info{Service: "billing", Region: "london", Version: "v-test"}, info)

	resp, err = http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, logs.String(), "london-edge-secret-0123", "secrets are masked in the start-up line")
	require.Contains(t, logs.String(), `"msg":"stopped"`)
}

func TestRun_RefusesBadConfig(t *testing.T) {
	err := service.Run(context.Background(), service.Spec{Name: "billing"}, config.Service{Region: "atlantis", EdgeSecret: "x"}, nil)
	require.Error(t, err)
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// TestRun_RelayFlushesWhatWorkersRecordWhileStopping: a worker the service
// registered records an audit event as it stops; the relay, closed after
// every registered worker, still publishes it.
func TestRun_RelayFlushesWhatWorkersRecordWhileStopping(t *testing.T) {
	topic := audit.Topic("london")
	b := audittest.StartBroker(t, 1, topic)
	cfg := config.Service{
		Region:     "london",
		HTTP:       config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second},
		Database:   config.Database{URL: storetest.URL(t)},
		Kafka:      config.Kafka{Brokers: strings.Join(b.Addrs(), ",")},
		EdgeSecret: "london-edge-secret-0123",
	}
	clinic := uuid.NewString()
	var recorded string
	spec := service.Spec{Name: "billing", Migrations: os.DirFS("../store/testdata/migrations"), LogOutput: io.Discard,
		Register: func(_ context.Context, d service.Deps, _ httpserver.Routes) ([]io.Closer, error) {
			return []io.Closer{closeFunc(func() error {
				e := audit.New(clinic, "london", audit.Actor{System: "billing"}, audit.InvoiceCreate, audit.Allowed)
				recorded = e.ID
				return audit.RecordNow(context.Background(), d.DB, e)
			})}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, spec, cfg, func(string) { close(ready) }) }()
	<-ready
	cancel()
	require.NoError(t, <-done)
	require.NotEmpty(t, recorded)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	m, err := r.ReadMessage(rctx)
	require.NoError(t, err, "the event recorded while stopping reached the topic")
	require.Equal(t, clinic, string(m.Key))
	require.Contains(t, string(m.Value), recorded)
}
