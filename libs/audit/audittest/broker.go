// Package audittest provides what tests of the audit path share: a
// Kafka-protocol broker (kfake) that can be stopped and started again on the
// same port with its log kept on disk, like a region's broker restarting.
package audittest

import (
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a single-node kfake cluster seeded with topics.
type Broker struct {
	t          testing.TB
	dir        string
	port       int
	partitions int32
	topics     []string

	mu sync.Mutex
	c  *kfake.Cluster
}

// StartBroker starts a broker whose topics have the given partitions; it
// stops when the test ends.
func StartBroker(t testing.TB, partitions int32, topics ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, dir: filepath.Join(t.TempDir(), "kafka"), partitions: partitions, topics: topics}
	b.Start()
	_, port, err := net.SplitHostPort(b.c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if b.port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// Start starts the broker (again), on its port, with its data.
func (b *Broker) Start() {
	b.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(b.dir), kfake.SeedTopics(b.partitions, b.topics...)}
	if b.port != 0 {
		opts = append(opts, kfake.Ports(b.port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.mu.Lock()
	b.c = c
	b.mu.Unlock()
}

// Stop stops the broker, keeping its data for Start.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// Addrs are the broker's bootstrap addresses; they stay the same across a
// restart.
func (b *Broker) Addrs() []string { return []string{"127.0.0.1:" + strconv.Itoa(b.port)} }
