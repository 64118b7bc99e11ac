// Package signup creates a clinic across the directory and its home region
// as one step: it reserves the slug in the directory, provisions the clinic
// and its owner in the region, then activates the entry — and undoes the
// region's part if the directory cannot be completed. An Idempotency-Key
// makes retries safe.
package signup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/platform/router/internal/directory"
)

// Region is one region's identity provisioning endpoint.
type Region interface {
	Provision(ctx context.Context, c provisioning.Clinic) (provisioning.Result, error)
	Undo(ctx context.Context, clinicID string) error
	ClosedClinics(ctx context.Context) ([]string, error)
}

// Clinic is the public view of a directory entry.
type Clinic struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	Region string `json:"region"`
	Status string `json:"status"`
}

// View converts a directory entry to its public view.
func View(e directory.Entry) Clinic {
	return Clinic{ID: e.ID, Slug: e.Slug, Region: string(e.Region), Status: string(e.Status)}
}

// Answer is the HTTP answer to a sign-up: a status and either the clinic or
// a problem. Answers are what the idempotency store remembers.
type Answer struct {
	Status  int
	Clinic  *Clinic
	Problem *problem.Problem
}

// Service runs sign-ups.
type Service struct {
	Directory *directory.Store
	Regions   map[residency.Region]Region
	Logger    *slog.Logger
	Now       func() time.Time
	// StaleAfter is how old a provisioning entry must be before the
	// reconciler undoes it.
	StaleAfter time.Duration
	// KeyTTL is how long an Idempotency-Key's answer is remembered.
	KeyTTL time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// SignUp validates req and creates the clinic. key is the client's
// Idempotency-Key header, or empty.
func (s *Service) SignUp(ctx context.Context, key string, req provisioning.Clinic) (Answer, error) {
	region, bad := req.Validate()
	if len(bad) > 0 {
		return Answer{Status: http.StatusBadRequest, Problem: problem.Validation(bad...)}, nil
	}
	if _, ok := s.Regions[region]; !ok {
		return Answer{}, fmt.Errorf("no provisioning client for region %s", region)
	}
	if key == "" {
		return s.signUp(ctx, region, req)
	}
	if len(key) > 255 {
		return Answer{Status: http.StatusBadRequest, Problem: problem.Validation(problem.FieldError{
			Field: "Idempotency-Key", Reason: "must be at most 255 characters"})}, nil
	}
	keyHash, fp := hash(key), fingerprint(req)
	remembered, err := s.Directory.ClaimKey(ctx, keyHash, fp, s.now())
	switch {
	case errors.Is(err, directory.ErrKeyTaken):
		return replay(remembered, fp), nil
	case err != nil:
		return Answer{}, err
	}
	ans, err := s.signUp(ctx, region, req)
	if err != nil || ans.Status >= 500 {
		if rerr := s.Directory.ReleaseKey(context.WithoutCancel(ctx), keyHash); rerr != nil {
			s.Logger.WarnContext(ctx, "release idempotency key", slog.String("error", rerr.Error()))
		}
		return ans, err
	}
	body, _ := json.Marshal(ans.body())
	if err := s.Directory.RememberAnswer(context.WithoutCancel(ctx), keyHash, ans.Status, string(body)); err != nil {
		s.Logger.WarnContext(ctx, "remember idempotent answer", slog.String("error", err.Error()))
	}
	return ans, nil
}

func (a Answer) body() any {
	if a.Problem != nil {
		return a.Problem
	}
	return a.Clinic
}

func replay(r directory.Remembered, fp string) Answer {
	if r.Fingerprint != fp {
		return Answer{Status: http.StatusUnprocessableEntity, Problem: problem.New(problem.TypeIdempotency,
			http.StatusUnprocessableEntity, "Idempotency-Key reused").
			WithDetail("this Idempotency-Key was used for a different sign-up")}
	}
	if r.StatusCode == 0 {
		return Answer{Status: http.StatusConflict, Problem: problem.New(problem.TypeIdempotency, http.StatusConflict,
			"Request in progress").WithDetail("a sign-up with this Idempotency-Key is still being processed; retry shortly")}
	}
	if r.StatusCode < 300 {
		var c Clinic
		if json.Unmarshal([]byte(r.Body), &c) == nil {
			return Answer{Status: r.StatusCode, Clinic: &c}
		}
	}
	var p problem.Problem
	_ = json.Unmarshal([]byte(r.Body), &p)
	return Answer{Status: r.StatusCode, Problem: &p}
}

// signUp is the saga: reserve → provision → activate, compensating on failure.
func (s *Service) signUp(ctx context.Context, region residency.Region, req provisioning.Clinic) (Answer, error) {
	entry := directory.Entry{
		ID: uuid.Must(uuid.NewV7()).String(), Slug: req.Slug, Region: region,
		Status: directory.StatusProvisioning, CreatedAt: s.now(),
	}
	if err := s.Directory.Reserve(ctx, entry); err != nil {
		if errors.Is(err, directory.ErrSlugTaken) {
			return Answer{Status: http.StatusConflict, Problem: problem.Conflict("this slug is already taken")}, nil
		}
		return Answer{}, err
	}
	req.ID = entry.ID
	log := s.Logger.With(slog.String("clinic_id", entry.ID), slog.String("home_region", string(region)))

	_, err := s.Regions[region].Provision(ctx, req)
	var rejected *provisioning.RejectedError
	switch {
	case errors.As(err, &rejected):
		// A definite refusal: nothing was created in the region.
		if derr := s.Directory.Delete(context.WithoutCancel(ctx), entry.ID); derr != nil {
			log.WarnContext(ctx, "release reserved slug", slog.String("error", derr.Error()))
		}
		p := rejected.Problem
		if p.Status == http.StatusConflict {
			p = *problem.Conflict("this slug is already taken")
		}
		return Answer{Status: p.Status, Problem: &p}, nil
	case err != nil:
		log.ErrorContext(ctx, "provisioning failed", slog.String("error", err.Error()))
		s.compensate(ctx, log, entry)
		return Answer{Status: http.StatusBadGateway, Problem: problem.New(problem.TypeUpstream, http.StatusBadGateway,
			"Region unavailable").WithDetail("the clinic's home region could not be reached; nothing was created, retry later")}, nil
	}

	if err := s.Directory.SetStatus(ctx, entry.ID, directory.StatusActive); err != nil {
		log.ErrorContext(ctx, "activate directory entry", slog.String("error", err.Error()))
		s.compensate(ctx, log, entry)
		return Answer{}, err
	}
	entry.Status = directory.StatusActive
	log.InfoContext(ctx, "clinic signed up")
	v := View(entry)
	return Answer{Status: http.StatusCreated, Clinic: &v}, nil
}

// compensate undoes a half-made sign-up: the region's clinic first, then
// the directory entry. If the region cannot be reached the entry stays in
// provisioning (its slug reserved) and the reconciler retries.
func (s *Service) compensate(ctx context.Context, log *slog.Logger, e directory.Entry) {
	ctx = context.WithoutCancel(ctx)
	if err := s.Regions[e.Region].Undo(ctx, e.ID); err != nil {
		log.WarnContext(ctx, "undo provisioning; the reconciler will retry", slog.String("error", err.Error()))
		return
	}
	if err := s.Directory.Delete(ctx, e.ID); err != nil {
		log.WarnContext(ctx, "delete directory entry; the reconciler will retry", slog.String("error", err.Error()))
	}
}

// Reconcile undoes sign-ups left half-done by a crash or an outage and
// forgets expired idempotency keys. The router runs it periodically.
func (s *Service) Reconcile(ctx context.Context) error {
	stale, err := s.Directory.StaleProvisioning(ctx, s.now().Add(-s.StaleAfter))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range stale {
		region, ok := s.Regions[e.Region]
		if !ok {
			continue
		}
		if err := region.Undo(ctx, e.ID); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", e.ID, err))
			continue
		}
		if err := s.Directory.Delete(ctx, e.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		s.Logger.InfoContext(ctx, "half-made sign-up undone", slog.String("clinic_id", e.ID))
	}
	if s.KeyTTL > 0 {
		errs = append(errs, s.Directory.ExpireKeys(ctx, s.now().Add(-s.KeyTTL)))
	}
	errs = append(errs, s.syncClosures(ctx))
	return errors.Join(errs...)
}

// syncClosures marks closed in the directory every clinic a region reports
// closed (its key destroyed), so the router answers 410 Gone for it.
func (s *Service) syncClosures(ctx context.Context) error {
	var errs []error
	for region, r := range s.Regions {
		ids, err := r.ClosedClinics(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("closed clinics of %s: %w", region, err))
			continue
		}
		for _, id := range ids {
			e, err := s.Directory.ByID(ctx, id)
			if err != nil || e.Region != region || e.Status == directory.StatusClosed {
				continue // unknown here, another region's, or already closed
			}
			if err := s.Directory.SetStatus(ctx, id, directory.StatusClosed); err != nil {
				errs = append(errs, err)
				continue
			}
			s.Logger.InfoContext(ctx, "clinic closed in its region", slog.String("clinic_id", id), slog.String("home_region", string(region)))
		}
	}
	return errors.Join(errs...)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fingerprint identifies a sign-up by its non-personal fields, so a reused
// key with a different request is detected without storing personal data.
func fingerprint(c provisioning.Clinic) string {
	return hash(c.Slug + "\x00" + c.Country + "\x00" + c.TimeZone + "\x00" + c.Name)
}
