package workflows

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/libs/temporalcodec"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// BenchmarkReminderStart measures reminder workflows started per second on
// the dev server through Scheduler.Booked (settings, sealed input, start
// with the id policies), beside two baselines in the same run: a no-op
// workflow started with Temporal's plain converter, and the same with the
// codec. Nothing runs the workflows: this is the start path only. Compare
// the workflows/s metrics (reminder ÷ noop-plain).
func BenchmarkReminderStart(b *testing.B) {
	cfg := devServer(b)
	ctx := context.Background()
	db := storetest.Open(b, nil)
	if err := fieldcrypt.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	keys := fieldcrypttest.NewMemoryKeys()
	if err := temporalcodec.CreateRegionKey(ctx, keys, residency.Montreal); err != nil {
		b.Fatal(err)
	}
	codec, err := temporalcodec.New(fieldcrypt.New(keys, db, fieldcrypt.Options{}), residency.Montreal, temporalcodec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := codec.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	sealed, err := Dial(ctx, cfg, codec, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer sealed.Close()
	plain, err := client.DialContext(ctx, client.Options{HostPort: cfg.Address, Namespace: cfg.Namespace,
		Logger: tlog.NewStructuredLogger(quiet)})
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	tq := "bench-" + uuid.NewString() // no worker polls it: starts only

	noop := func(c client.Client) func(*testing.B) {
		return func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "noop-" + uuid.NewString(), TaskQueue: tq},
						"Noop", ReminderInput{ClinicID: uuid.NewString(), AppointmentID: uuid.NewString()}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
		}
	}
	b.Run("noop-plain", noop(plain))
	b.Run("noop-sealed", noop(sealed))
	b.Run("reminder", func(b *testing.B) {
		s := &Scheduler{Client: sealed, TaskQueue: tq}
		start := time.Now().Add(72 * time.Hour)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a := domain.Appointment{ID: uuid.NewString(), ClinicID: uuid.NewString(), PatientID: uuid.NewString(),
					PractitionerID: uuid.NewString(), Start: start, End: start.Add(time.Hour), Status: domain.Booked}
				if err := s.Booked(ctx, a); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "workflows/s")
	})
}
