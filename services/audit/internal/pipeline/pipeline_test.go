package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/audit/internal/consumer"
	"github.com/havenhealth/haven/services/audit/internal/domain"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

const region = "montreal"

var topic = audit.Topic(region)

// rawTopic is seeded beside the audit topic for the raw kafka-go baseline.
const rawTopic = "haven.montreal.raw-baseline.v1"

// pipeline is one producing service (its database with an outbox and a
// business table) feeding the audit service's chain.
type pipeline struct {
	t       testing.TB
	broker  *audittest.Broker
	svc     *libstore.DB // the producing service's database
	chain   *store.Store
	chainDB *libstore.DB
	clinics []string
}

func newPipeline(t testing.TB, partitions, clinics int) *pipeline {
	t.Helper()
	ctx := context.Background()
	svc := storetest.Open(t, nil)
	require.NoError(t, audit.Migrate(ctx, svc))
	require.NoError(t, svc.Exec(`CREATE TABLE operations (id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL)`).Error)
	chainDB := storetest.OpenWith(t, migrations.Options())
	p := &pipeline{t: t, broker: audittest.StartBroker(t, int32(partitions), topic, rawTopic), svc: svc, chain: store.New(chainDB), chainDB: chainDB}
	for range clinics {
		p.clinics = append(p.clinics, uuid.NewString())
	}
	return p
}

// operate performs n audited operations: each changes the service's
// database and records its event in the same transaction, as services do.
func (p *pipeline) operate(n int) []string {
	p.t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		clinic := p.clinics[i%len(p.clinics)]
		e := audit.New(clinic, region, audit.Actor{UserID: uuid.NewString(), Role: "owner", SessionID: uuid.NewString()}, audit.UserUpdate, audit.Allowed)
		e.ResourceType, e.ResourceID = "user", uuid.NewString()
		err := p.svc.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`INSERT INTO operations (id, clinic_id) VALUES (?, ?)`, e.ResourceID, clinic).Error; err != nil {
				return err
			}
			return audit.Record(tx, e)
		})
		require.NoError(p.t, err)
		ids = append(ids, e.ID)
	}
	return ids
}

// run starts a component until the test ends or stop is called.
func run(t testing.TB, fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func (p *pipeline) startRelay(db *libstore.DB) (stop func()) {
	w := audit.NewWriter(p.broker.Addrs(), topic)
	r := &audit.Relay{DB: db, Writer: w, Idle: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	return run(p.t, func(ctx context.Context) { _ = r.Run(ctx); _ = w.Close() })
}

func (p *pipeline) startConsumer(s consumer.Appender) (stop func()) {
	c := &consumer.Consumer{Reader: consumer.NewReader(p.broker.Addrs(), topic, "haven-audit"), Store: s, Region: region,
		Logger: slog.New(slog.DiscardHandler), MaxBackoff: 200 * time.Millisecond, Parallel: consumer.ParallelFor(p.chainDB)}
	return run(p.t, func(ctx context.Context) { c.Run(ctx); _ = c.Reader.Close() })
}

// chained counts the events in the chain store, over every clinic.
func (p *pipeline) chained() int64 {
	var n int64
	require.NoError(p.t, p.chainDB.Table("audit_chain").Count(&n).Error)
	return n
}

func (p *pipeline) waitChained(n int64, within time.Duration) {
	p.t.Helper()
	require.Eventually(p.t, func() bool { return p.chained() >= n }, within, 10*time.Millisecond,
		"chained %d of %d", p.chained(), n)
}

// requireExactlyOnce checks that the chain holds exactly ids, each once,
// and that every clinic's chain verifies.
func (p *pipeline) requireExactlyOnce(ids []string) {
	p.t.Helper()
	var stored []string
	require.NoError(p.t, p.chainDB.Table("audit_chain").Pluck("event_id", &stored).Error)
	require.Len(p.t, stored, len(ids), "events in the chain")
	seen := make(map[string]bool, len(stored))
	for _, id := range stored {
		require.False(p.t, seen[id], "event %s chained twice", id)
		seen[id] = true
	}
	for _, id := range ids {
		require.True(p.t, seen[id], "event %s lost", id)
	}
	for _, c := range p.clinics {
		v, err := p.chain.Verify(context.Background(), c)
		require.NoError(p.t, err)
		require.True(p.t, v.OK, "clinic %s: %+v", c, v.FirstBroken)
	}
}

func (p *pipeline) unpublished() int64 {
	var n int64
	require.NoError(p.t, p.svc.Table("audit_outbox").Count(&n).Error)
	return n
}

func TestZeroLoss_BrokerDownFor500Operations(t *testing.T) {
	p := newPipeline(t, 3, 7)
	p.startRelay(p.svc)
	p.startConsumer(p.chain)
	before := p.operate(10)
	p.waitChained(10, 30*time.Second)

	p.broker.Stop()
	during := p.operate(500)
	require.Equal(t, int64(10), p.chained(), "nothing new is chained while the broker is down")
	time.Sleep(500 * time.Millisecond) // the relay keeps failing and backing off meanwhile
	require.Equal(t, int64(500), p.unpublished(), "every event waits in the outbox")
	var ops int64
	require.NoError(t, p.svc.Table("operations").Count(&ops).Error)
	require.Equal(t, int64(510), ops, "the operations themselves went ahead")

	p.broker.Start()
	p.waitChained(510, 60*time.Second)
	require.Eventually(t, func() bool { return p.unpublished() == 0 }, 30*time.Second, 20*time.Millisecond)
	// Settle: anything re-delivered after a reconnect must still not double.
	sentinel := p.operate(1)
	p.waitChained(511, 30*time.Second)
	p.requireExactlyOnce(append(append(before, during...), sentinel...))
}

// errCrash stands for the relay process dying after the broker acknowledged
// a batch and before the published outbox rows were deleted.
var errCrash = errors.New("relay crashed before deleting")

func TestZeroLoss_RelayKilledBetweenPublishAndDelete(t *testing.T) {
	p := newPipeline(t, 1, 3)
	// Every attempt to delete published rows fails for the first three
	// batches: the broker has them, the outbox does not know.
	var crashes atomic.Int32
	require.NoError(t, p.svc.Callback().Delete().Before("gorm:delete").Register("test:crash", func(tx *gorm.DB) {
		if tx.Statement.Table == "audit_outbox" && crashes.Add(1) <= 3 {
			_ = tx.AddError(errCrash)
		}
	}))
	ids := p.operate(120)
	p.startRelay(p.svc)
	p.startConsumer(p.chain)
	p.waitChained(120, 60*time.Second)
	require.Eventually(t, func() bool { return p.unpublished() == 0 }, 30*time.Second, 20*time.Millisecond)
	require.GreaterOrEqual(t, crashes.Load(), int32(4), "the crash was injected and then recovered from")

	// The topic really holds duplicates: more messages than events.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: p.broker.Addrs(), Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	lag, err := r.ReadLag(context.Background())
	require.NoError(t, err)
	require.Greater(t, lag, int64(len(ids)), "re-published events are on the topic")

	sentinel := p.operate(1)
	p.waitChained(121, 30*time.Second)
	p.requireExactlyOnce(append(ids, sentinel...))
}

// countingAppender is the chain store, counting the events it appended
// (committed).
type countingAppender struct {
	*store.Store
	appended atomic.Int64
}

func (c *countingAppender) AppendBatch(ctx context.Context, events []domain.Event) (int, error) {
	n, err := c.Store.AppendBatch(ctx, events)
	c.appended.Add(int64(n))
	return n, err
}

// crashAfterInsert is the chain store under a consumer that dies right
// after a database commit and before committing the offsets: the goroutine
// running the consumer ends there (runtime.Goexit), as if the process had
// been killed, so no code after the insert runs.
type crashAfterInsert struct {
	*store.Store
	crashOnce   bool
	crashed     atomic.Bool
	redelivered atomic.Int64
}

func (c *crashAfterInsert) AppendBatch(ctx context.Context, events []domain.Event) (int, error) {
	n, err := c.Store.AppendBatch(ctx, events)
	if err == nil && n < len(events) {
		c.redelivered.Add(int64(len(events) - n))
	}
	if err == nil && n > 0 && c.crashOnce && c.crashed.CompareAndSwap(false, true) {
		runtime.Goexit()
	}
	return n, err
}

func TestZeroLoss_ConsumerKilledBetweenInsertAndCommit(t *testing.T) {
	p := newPipeline(t, 1, 2)
	ids := p.operate(200)
	p.startRelay(p.svc)
	require.Eventually(t, func() bool { return p.unpublished() == 0 }, 30*time.Second, 10*time.Millisecond)

	// The first consumer chains a batch, then dies before committing.
	killed := &crashAfterInsert{Store: p.chain, crashOnce: true}
	c := &consumer.Consumer{Reader: consumer.NewReader(p.broker.Addrs(), topic, "haven-audit"), Store: killed,
		Region: region, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { defer close(done); c.Run(context.Background()) }()
	<-done
	require.True(t, killed.crashed.Load())
	require.NoError(t, c.Reader.Close())
	first := p.chained()
	require.Positive(t, first, "the killed consumer had chained a batch")

	// Its replacement gets the uncommitted batch again and chains the rest.
	again := &crashAfterInsert{Store: p.chain}
	p.startConsumer(again)
	sentinel := p.operate(1)
	p.waitChained(201, 60*time.Second)
	require.Equal(t, first, again.redelivered.Load(), "the uncommitted batch was delivered again and not chained twice")
	p.requireExactlyOnce(append(ids, sentinel...))
}

// BenchmarkPipeline measures events per second from a filled outbox through
// the relay, the broker and the consumer into the chain, and beside it raw
// kafka-go produce + consume of the same payloads with the same writer and
// reader settings on the same broker, in the same run; ratio = pipeline/raw.
// Both sides are warmed first (consumer group joined, connections open) by
// one event, so the figures are throughput, not start-up.
func BenchmarkPipeline(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) { benchmarkPipeline(b, w) })
	}
}

func benchmarkPipeline(b *testing.B, w workload) {
	const n = 40000
	var pipeRate, rawRate float64
	rounds := 0
	for b.Loop() {
		rounds++
		b.StopTimer()
		p := newPipeline(b, 3, 50)
		// The end is observed from the consumer's side (events its chain
		// commits appended), not by polling the chain table: counting rows
		// every few milliseconds would compete with the pipeline it times.
		counted := &countingAppender{Store: p.chain}
		stopConsumer := p.startConsumer(counted)
		warm := p.startRelay(p.svc)
		p.operate(1)
		p.waitChained(1, 30*time.Second)
		warm()
		fill(b, p, n, w)
		payloads := outboxPayloads(b, p)
		b.StartTimer()

		start := time.Now()
		stopRelay := p.startRelay(p.svc)
		for last := time.Now(); counted.appended.Load() < n+1; time.Sleep(time.Millisecond) {
			if time.Since(last) > 5*time.Second {
				b.Logf("chained %d of %d, %d unpublished", counted.appended.Load(), n, p.unpublished())
				last = time.Now()
			}
		}
		pipeRate += n / time.Since(start).Seconds()
		stopRelay()
		stopConsumer()
		require.EqualValues(b, n+1, p.chained(), "every event chained exactly once")

		rawRate += rawProduceConsume(b, p.broker.Addrs(), payloads)
	}
	b.ReportMetric(pipeRate/float64(rounds), "pipeline_events/s")
	b.ReportMetric(rawRate/float64(rounds), "raw_events/s")
	b.ReportMetric(pipeRate/rawRate, "ratio")
}

// BenchmarkConsumer measures the consumer alone, the pipeline's slowest
// stage: n events are relayed to the topic first (untimed), then a fresh
// consumer chains them all, timed from its first committed batch (so the
// group join is left out) to its last. Compare its events/s with
// BenchmarkPipeline's and with BenchmarkAppendBatch (the chain store alone)
// to see where time goes.
func BenchmarkConsumer(b *testing.B) {
	const n = 40000
	var rate float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		p := newPipeline(b, 3, 50)
		fill(b, p, n, workloads[0])
		stopRelay := p.startRelay(p.svc)
		require.Eventually(b, func() bool { return p.unpublished() == 0 }, time.Minute, 5*time.Millisecond)
		stopRelay()
		counted := &countingAppender{Store: p.chain}
		b.StartTimer()
		stop := p.startConsumer(counted)
		for counted.appended.Load() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		start, first := time.Now(), counted.appended.Load()
		for counted.appended.Load() < n {
			time.Sleep(time.Millisecond)
		}
		rate += float64(n-first) / time.Since(start).Seconds()
		rounds++
		stop()
		require.EqualValues(b, n, p.chained(), "every event chained exactly once")
	}
	b.ReportMetric(rate/float64(rounds), "events/s")
}

// workload shapes the ids of benchmark events.
type workload struct {
	name string
	// staff and patients are how many distinct users and patients each
	// clinic's events come from; 0 means a new id for every event.
	staff, patients int
}

var workloads = []workload{
	// A clinic's day: a few staff reading and writing the charts of a
	// patient list (the resource is a chart entry, new each time).
	{name: "clinic-shaped", staff: 20, patients: 2000},
	// The worst case for the report indexes: every id in every event new.
	{name: "all-distinct"},
}

// pick returns the k-th of n ids of a clinic, or a new id when n is 0.
func pick(clinic, kind string, n, k int) string {
	if n == 0 {
		return uuid.NewString()
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(clinic+kind+strconv.Itoa(k%n))).String()
}

// fill records n events in the outbox, 500 per transaction (untimed).
func fill(b testing.TB, p *pipeline, n int, w workload) {
	b.Helper()
	for i := 0; i < n; i += 500 {
		err := p.svc.Transaction(func(tx *gorm.DB) error {
			for j := i; j < min(i+500, n); j++ {
				clinic := p.clinics[j%len(p.clinics)]
				actor := audit.Actor{UserID: pick(clinic, "staff", w.staff, j*7), Role: "practitioner", SessionID: pick(clinic, "session", w.staff, j*7)}
				e := audit.New(clinic, region, actor, audit.ChartRead, audit.Allowed)
				e.ResourceType, e.ResourceID, e.PatientID = "chart_entry", uuid.NewString(), pick(clinic, "patient", w.patients, j*13)
				if err := audit.Record(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
}

type keyed struct{ key, value string }

func outboxPayloads(b testing.TB, p *pipeline) []keyed {
	b.Helper()
	var rows []struct{ ClinicID, Payload string }
	require.NoError(b, p.svc.Table("audit_outbox").Select("clinic_id", "payload").Order("id").Find(&rows).Error)
	out := make([]keyed, len(rows))
	for i, r := range rows {
		out[i] = keyed{r.ClinicID, r.Payload}
	}
	return out
}

// rawProduceConsume writes the payloads to a fresh topic with the relay's
// writer settings, in the relay's batch size, while a consumer-group reader
// with the consumer's settings reads and commits them; it returns events/s.
func rawProduceConsume(b testing.TB, brokers []string, payloads []keyed) float64 {
	b.Helper()
	w := audit.NewWriter(brokers, rawTopic)
	defer w.Close()
	r := consumer.NewReader(brokers, rawTopic, "raw-"+uuid.NewString())
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Warm up like the pipeline: one message through, group joined.
	require.NoError(b, w.WriteMessages(ctx, kafka.Message{Key: []byte(payloads[0].key), Value: []byte(payloads[0].value)}))
	m, err := r.FetchMessage(ctx)
	require.NoError(b, err)
	require.NoError(b, r.CommitMessages(ctx, m))
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < len(payloads); i += 500 {
			msgs := make([]kafka.Message, 0, 500)
			for _, p := range payloads[i:min(i+500, len(payloads))] {
				msgs = append(msgs, kafka.Message{Key: []byte(p.key), Value: []byte(p.value)})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := 0
	for got < len(payloads) {
		batch := make([]kafka.Message, 0, 500)
		m, err := r.FetchMessage(ctx)
		require.NoError(b, err)
		batch = append(batch, m)
		linger, lingerCancel := context.WithTimeout(ctx, 5*time.Millisecond)
		for len(batch) < 500 {
			m, err := r.FetchMessage(linger)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		lingerCancel()
		require.NoError(b, r.CommitMessages(ctx, batch...))
		got += len(batch)
	}
	require.NoError(b, <-errc)
	return float64(len(payloads)) / time.Since(start).Seconds()
}
