// Package vaultdev is the devstack's stand-in for a region's Vault: Vault's
// own transit secrets engine, run in-process behind a thin HTTP layer that
// speaks Vault's API for the paths Haven uses, so the official Vault client
// (github.com/hashicorp/vault/api) talks to it unchanged.
//
// It is for development and tests only. There is no seal, no barrier
// encryption (key material is stored in plain files under Options.Dir), one
// static token with full access, no audit log, no leases and no HA.
// Production regions use a real Vault cluster.
package vaultdev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/version"
)

// transitMount is the path the transit engine is mounted at, as in a default
// `vault secrets enable transit`.
const transitMount = "transit/"

// rollbackInterval is how often the engine's periodic function runs (key
// auto-rotation), the same period as Vault's rollback manager.
const rollbackInterval = time.Minute

// Options configures a Server.
type Options struct {
	// Addr is the TCP address to listen on; "127.0.0.1:0" picks a free port.
	// Empty means "127.0.0.1:0".
	Addr string
	// Dir is the storage directory; it is created if missing. Required.
	Dir string
	// Token is the only accepted X-Vault-Token. Required.
	Token string
	// Logger receives the server's and the transit engine's logs. Nil
	// discards them.
	Logger *slog.Logger
}

// Server is a running dev Vault serving the transit engine over HTTP.
type Server struct {
	log     *slog.Logger
	token   string
	version string
	cluster clusterInfo

	store   *fileStore
	storage logical.Storage // the transit mount's view of store
	backend logical.Backend

	ln   net.Listener
	http *http.Server

	stop      context.CancelFunc // stops background work
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start opens the storage under o.Dir, sets up the transit engine and serves
// HTTP on o.Addr in a goroutine until Close. ctx bounds start-up only.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("vaultdev: Options.Dir is required")
	}
	if o.Token == "" {
		return nil, errors.New("vaultdev: Options.Token is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}

	store, err := openFileStore(filepath.Join(o.Dir, "data"))
	if err != nil {
		return nil, fmt.Errorf("vaultdev: open storage: %w", err)
	}
	storage := logical.NewLogicalStorage(store)

	s := &Server{
		log:     o.Logger,
		token:   o.Token,
		version: version.GetVersion().VersionNumber(),
		store:   store,
		storage: logical.NewStorageView(storage, "logical/transit/"),
	}

	fail := func(err error) (*Server, error) {
		return nil, errors.Join(err, store.Close())
	}

	if s.cluster, err = loadClusterInfo(ctx, storage); err != nil {
		return fail(fmt.Errorf("vaultdev: cluster identity: %w", err))
	}

	s.backend, err = transit.Factory(ctx, &logical.BackendConfig{
		StorageView: s.storage,
		Logger:      hclogToSlog(ctx, o.Logger.With("component", "transit")),
		System: &logical.StaticSystemView{
			DefaultLeaseTTLVal: 32 * 24 * time.Hour, // Vault's defaults
			MaxLeaseTTLVal:     32 * 24 * time.Hour,
			VersionString:      s.version,
			ClusterUUID:        s.cluster.ID,
		},
		BackendUUID: s.cluster.TransitUUID,
		Config:      map[string]string{},
	})
	if err != nil {
		return fail(fmt.Errorf("vaultdev: start transit engine: %w", err))
	}
	if err := s.backend.Initialize(ctx, &logical.InitializationRequest{Storage: s.storage}); err != nil {
		return fail(fmt.Errorf("vaultdev: initialize transit engine: %w", err))
	}

	var lc net.ListenConfig
	s.ln, err = lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		s.backend.Cleanup(ctx)
		return fail(fmt.Errorf("vaultdev: listen on %s: %w", o.Addr, err))
	}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}

	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.done.Go(func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("vaultdev: serve", "error", err)
		}
	})
	s.done.Go(func() { s.runPeriodic(bg) })

	s.log.Info("vaultdev: listening", "addr", s.Addr(), "dir", o.Dir, "version", s.version)
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base address for a Vault client, http://host:port.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops accepting requests, waits up to five seconds for those in
// flight, stops the engine and flushes storage. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		var errs []error
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("vaultdev: shut down http: %w", err))
		}
		s.stop()
		s.done.Wait()
		s.backend.Cleanup(ctx)
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("vaultdev: close storage: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// runPeriodic sends the engine the rollback requests Vault's rollback
// manager would, which is what drives transit's key auto-rotation.
func (s *Server) runPeriodic(ctx context.Context) {
	t := time.NewTicker(rollbackInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			req := &logical.Request{
				Operation:  logical.RollbackOperation,
				Path:       "",
				Storage:    s.storage,
				MountPoint: transitMount,
				MountType:  "transit",
				Data:       map[string]any{"immediate": false},
			}
			if _, err := s.backend.HandleRequest(ctx, req); err != nil && ctx.Err() == nil {
				s.log.Warn("vaultdev: periodic transit work", "error", err)
			}
		}
	}
}

// clusterInfo is the server's identity, kept in storage so that it survives
// restarts like a real cluster's.
type clusterInfo struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	TransitUUID string `json:"transit_uuid"`
}

const clusterInfoKey = "core/vaultdev-cluster"

func loadClusterInfo(ctx context.Context, st logical.Storage) (clusterInfo, error) {
	var ci clusterInfo
	entry, err := st.Get(ctx, clusterInfoKey)
	if err != nil {
		return ci, err
	}
	if entry != nil {
		return ci, entry.DecodeJSON(&ci)
	}

	ids := make([]string, 3)
	for i := range ids {
		if ids[i], err = uuid.GenerateUUID(); err != nil {
			return ci, err
		}
	}
	ci = clusterInfo{Name: "vault-cluster-" + ids[0][:8], ID: ids[1], TransitUUID: ids[2]}
	entry, err = logical.StorageEntryJSON(clusterInfoKey, ci)
	if err != nil {
		return ci, err
	}
	return ci, st.Put(ctx, entry)
}

// hclogToSlog gives the engine an hclog.Logger whose records go to l.
func hclogToSlog(ctx context.Context, l *slog.Logger) hclog.Logger {
	level := hclog.Info
	switch {
	case l.Enabled(ctx, slog.LevelDebug-4):
		level = hclog.Trace
	case l.Enabled(ctx, slog.LevelDebug):
		level = hclog.Debug
	}
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Output: io.Discard, Level: level})
	il.RegisterSink(slogSink{l: l})
	return il
}

type slogSink struct{ l *slog.Logger }

// Accept implements hclog.SinkAdapter.
func (s slogSink) Accept(_ string, level hclog.Level, msg string, args ...any) {
	var sl slog.Level
	switch level {
	case hclog.Trace:
		sl = slog.LevelDebug - 4
	case hclog.Debug:
		sl = slog.LevelDebug
	case hclog.Warn:
		sl = slog.LevelWarn
	case hclog.Error:
		sl = slog.LevelError
	default:
		sl = slog.LevelInfo
	}
	s.l.Log(context.Background(), sl, msg, args...)
}
