// Package config loads a binary's typed configuration from environment
// variables (prefix HAVEN_) with documented defaults, and prints it with
// secrets masked.
//
// Field names map to variables the ardanlabs/conf way: Database.URL is
// HAVEN_DATABASE_URL, EdgeSecret is HAVEN_EDGE_SECRET. Tag secrets with
// `conf:"mask"`; `--help` on any binary lists every variable.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/havenhealth/haven/libs/residency"
)

// Prefix is the namespace of every Haven environment variable.
const Prefix = "HAVEN"

// ErrHelpWanted is returned by Load when the binary was asked for --help;
// the usage text has already been returned to print.
var ErrHelpWanted = conf.ErrHelpWanted

// Load fills cfg (a pointer to a struct with conf tags) from the environment
// and command-line flags. On --help it returns the usage and ErrHelpWanted.
func Load(cfg any) (usage string, err error) {
	help, err := conf.Parse(Prefix, cfg)
	if err != nil {
		if errors.Is(err, conf.ErrHelpWanted) {
			return help, ErrHelpWanted
		}
		return "", fmt.Errorf("load config: %w", err)
	}
	return "", nil
}

// LoadOrHelp is Load for a main(): on --help it prints the usage and
// reports done, so the caller simply returns.
func LoadOrHelp(cfg any) (done bool, err error) {
	usage, err := Load(cfg)
	if errors.Is(err, ErrHelpWanted) {
		fmt.Println(usage)
		return true, nil
	}
	return false, err
}

// String renders cfg for a start-up log line, masking fields tagged mask
// (and the password part of URLs in them).
func String(cfg any) string {
	s, err := conf.String(cfg)
	if err != nil {
		return "config: " + err.Error()
	}
	return s
}

// HTTP is the listening side of a server.
type HTTP struct {
	Addr            string        `conf:"default:127.0.0.1:8080,help:address to listen on"`
	ReadTimeout     time.Duration `conf:"default:10s"`
	WriteTimeout    time.Duration `conf:"default:30s"`
	IdleTimeout     time.Duration `conf:"default:120s"`
	ShutdownTimeout time.Duration `conf:"default:8s,help:how long in-flight requests may finish after a stop signal"`
}

// Database locates a service's store: postgres://... in production,
// sqlite:///path/to/file.db embedded.
type Database struct {
	URL string `conf:"required,mask,help:postgres://user@host/db or sqlite:///path/file.db (PGPASSWORD is honoured)"`
}

// Redis locates the region's Redis (sessions, revocations, rate limits).
type Redis struct {
	URL      string `conf:"help:redis://host:6379/0; empty disables Redis-backed features"`
	Password string `conf:"mask,help:overrides the URL's password"`
}

// Kafka lists the region's brokers.
type Kafka struct {
	Brokers string `conf:"help:comma-separated host:port list of the region's Kafka brokers"`
}

// BrokerList splits Brokers.
func (k Kafka) BrokerList() []string { return List(k.Brokers) }

// List splits a comma-separated setting, dropping blanks.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Vault locates the region's Vault and says how to authenticate to it.
type Vault struct {
	Addr string `conf:"help:the region's Vault address"`
	// Token authenticates directly (devstack, tests). Production leaves it
	// empty and logs in with the pod's Kubernetes service account.
	Token string `conf:"mask,help:Vault token (development); production uses Kubernetes auth"`
	// Role is the Vault Kubernetes-auth role of this service.
	Role string `conf:"help:Vault Kubernetes auth role (production)"`
	// Mount is the transit engine's mount path.
	Mount string `conf:"default:transit,help:mount path of the transit engine"`
}

// Temporal locates the region's Temporal frontend.
type Temporal struct {
	Address   string `conf:"help:host:port of the region's Temporal frontend"`
	Namespace string `conf:"help:the region's Temporal namespace"`
}

// Log configures the JSON logger.
type Log struct {
	Level string `conf:"default:info,help:debug | info | warn | error"`
}

// Service is the configuration every regional service shares. A service
// embeds it in its own Config and adds what only it needs.
type Service struct {
	Region     string `conf:"required,help:montreal | portland | sydney | london"`
	HTTP       HTTP
	Database   Database
	Redis      Redis
	Kafka      Kafka
	Vault      Vault
	Temporal   Temporal
	Log        Log
	EdgeSecret string `conf:"required,mask,help:shared secret the router presents to this region's services"`
	// PublicURL is the router's public base URL; the region's token issuer
	// is PublicURL + "/r/" + region.
	PublicURL string `conf:"default:http://localhost:8080,help:the router's public base URL (names the token issuer)"`
	// IdentityURL is this region's identity service, whose JWKS verifies tokens.
	IdentityURL string `conf:"help:the region's identity service base URL (its JWKS verifies tokens)"`
	// ChartingURL, MessagingURL and SchedulingURL are this region's peers,
	// called with edgeauth.SignInternal (recipients, reminders, codes).
	ChartingURL   string `conf:"help:the region's charting service base URL"`
	MessagingURL  string `conf:"help:the region's messaging service base URL"`
	SchedulingURL string `conf:"help:the region's scheduling service base URL"`
	// SignInPerMinute bounds sign-in attempts per client IP and clinic.
	SignInPerMinute int `conf:"default:30,help:sign-in attempts allowed per client IP and clinic per minute"`
	Closure         Closure
	Audit           Audit
	Dev             Dev
}

// Audit governs the audit service's signed digests.
type Audit struct {
	// DigestEvery is how often every clinic whose activity log grew gets a
	// new signed digest of its chain head (the audit service only).
	DigestEvery time.Duration `conf:"default:15m,help:how often the audit service signs a digest of each clinic's grown chain"`
}

// Closure governs clinic closure (crypto-shredding).
type Closure struct {
	// Grace is how long a closing clinic keeps working (to export its
	// records) before its key is destroyed. Real clinics should follow their
	// record-retention rules.
	Grace time.Duration `conf:"default:720h,help:time between a closure request and the destruction of the clinic's key"`
	// CheckEvery is how often due closures are carried out.
	CheckEvery time.Duration `conf:"default:1m,help:how often due clinic closures are carried out"`
}

// Dev holds settings only the devstack uses.
type Dev struct {
	// Outbox is a directory where messages are written instead of sent.
	Outbox string `conf:"help:development only: directory where e-mail and SMS are written instead of sent"`
}

// Issuer is the region's token issuer URL.
func (s Service) Issuer() string {
	return strings.TrimSuffix(s.PublicURL, "/") + "/r/" + s.Region
}

// Validate checks what the tags cannot.
func (s Service) Validate() error {
	if _, err := residency.ParseRegion(s.Region); err != nil {
		return fmt.Errorf("HAVEN_REGION: %w", err)
	}
	if len(s.EdgeSecret) < 16 {
		return errors.New("HAVEN_EDGE_SECRET must be at least 16 characters")
	}
	return nil
}
