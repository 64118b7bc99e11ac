// Command messaging serves a region's e-mail and SMS delivery and the communication log.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	_ "time/tzdata" // IANA zones must resolve in a distroless image too

	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/service"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/contacts"
	"github.com/havenhealth/haven/services/messaging/internal/delivery"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
	"github.com/havenhealth/haven/services/messaging/internal/httpapi"
	"github.com/havenhealth/haven/services/messaging/internal/store"
	"github.com/havenhealth/haven/services/messaging/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Config is messaging's own settings, beside config.Service (HAVEN_ prefix:
// HAVEN_MAIL_SMTP_ADDR, HAVEN_SMS_AUTH_TOKEN, ...). A channel without its
// settings answers 503 "channel not configured".
type Config struct {
	Mail struct {
		SMTPAddr string `conf:"help:host:port of the SMTP server; empty leaves e-mail unconfigured"`
		From     string `conf:"help:the From address of every e-mail"`
		Username string `conf:"help:SMTP user name; empty sends without authentication"`
		Password string `conf:"mask,help:SMTP password"`
		TLS      string `conf:"default:starttls,help:none | starttls | tls (implicit TLS); none only for a local sink"`
	}
	SMS struct {
		AccountSID string `conf:"help:account SID at the SMS provider (Twilio); empty leaves SMS unconfigured"`
		AuthToken  string `conf:"mask,help:auth token at the SMS provider; it also checks status callbacks"`
		From       string `conf:"help:the sending number in E.164 form"`
		APIURL     string `conf:"env:SMS_API_URL,help:base URL of a local service speaking the Twilio API (a sink); empty uses the real provider"`
	}
	Dispatch struct {
		Every       time.Duration `conf:"default:5s,help:how often queued messages are retried"`
		MaxAttempts int           `conf:"default:8,help:attempts before a message that keeps failing temporarily is failed"`
		RetryBase   time.Duration `conf:"default:30s,help:wait after the first failed attempt; it doubles with each attempt up to one hour"`
	}
}

func main() { service.Main(newSpec(&Config{})) }

func newSpec(cfg *Config) service.Spec {
	return service.Spec{Name: "messaging", Version: version, Migrations: migrations.FS, Config: cfg,
		Register: func(ctx context.Context, d service.Deps, mux httpserver.Routes) ([]io.Closer, error) {
			return register(ctx, d, mux, cfg)
		}}
}

// senders builds the configured channels.
func senders(cfg *Config) (map[domain.Channel]app.Sender, app.CallbackVerifier, error) {
	out := map[domain.Channel]app.Sender{}
	var cb app.CallbackVerifier
	if cfg.Mail.SMTPAddr != "" {
		e, err := delivery.NewEmail(delivery.MailConfig{SMTPAddr: cfg.Mail.SMTPAddr, From: cfg.Mail.From,
			Username: cfg.Mail.Username, Password: cfg.Mail.Password, TLS: cfg.Mail.TLS})
		if err != nil {
			return nil, nil, fmt.Errorf("HAVEN_MAIL_*: %w", err)
		}
		out[domain.Email] = e
	}
	if cfg.SMS.AccountSID != "" || cfg.SMS.AuthToken != "" {
		s, err := delivery.NewSMS(delivery.SMSConfig{AccountSID: cfg.SMS.AccountSID, AuthToken: cfg.SMS.AuthToken,
			From: cfg.SMS.From, APIURL: cfg.SMS.APIURL})
		if err != nil {
			return nil, nil, fmt.Errorf("HAVEN_SMS_*: %w", err)
		}
		out[domain.SMS], cb = s, s
	}
	return out, cb, nil
}

func register(ctx context.Context, d service.Deps, mux httpserver.Routes, cfg *Config) ([]io.Closer, error) {
	api := &httpapi.API{Authenticated: d.Authenticated, Logger: d.Logger, EdgeSecret: d.EdgeSecret, Region: string(d.Region)}
	var closers []io.Closer
	if d.DB != nil {
		if d.Crypter == nil {
			return nil, errors.New("messaging keeps recipients only encrypted: set HAVEN_VAULT_ADDR")
		}
		send, callbacks, err := senders(cfg)
		if err != nil {
			return nil, err
		}
		key, err := domain.UnsubscribeKey(d.EdgeSecret)
		if err != nil {
			return nil, err
		}
		var people app.Contacts
		if d.Config.ChartingURL != "" {
			people = &contacts.Charting{BaseURL: d.Config.ChartingURL, Secret: d.EdgeSecret, Region: string(d.Region),
				HTTP: &http.Client{Timeout: 5 * time.Second}}
		}
		var clinics app.Clinics
		if d.Config.IdentityURL != "" {
			clinics = &contacts.Identity{BaseURL: d.Config.IdentityURL, Secret: d.EdgeSecret, Region: string(d.Region),
				HTTP: &http.Client{Timeout: 5 * time.Second}}
		}
		api.App = app.New(app.Deps{
			Store: store.New(d.DB, d.Crypter), Contacts: people, Clinics: clinics, Senders: send, Callbacks: callbacks, Crypter: d.Crypter,
			Region: string(d.Region), PublicURL: d.Config.PublicURL, UnsubscribeKey: key, Logger: d.Logger,
			MaxAttempts: cfg.Dispatch.MaxAttempts, RetryBase: cfg.Dispatch.RetryBase,
		})
		for _, ch := range []domain.Channel{domain.Email, domain.SMS} {
			if send[ch] == nil {
				d.Logger.Warn("channel not configured; it answers 503", slog.String("channel", string(ch)))
			}
		}
		if people == nil {
			d.Logger.Warn("no HAVEN_CHARTING_URL: messages to patients answer 503")
		}
		every := cfg.Dispatch.Every
		if every <= 0 {
			every = 5 * time.Second
		}
		// The dispatcher sends what is queued (retries, and messages a
		// stopped replica left); closing it waits for the pass under way.
		closers = append(closers, service.Every(context.WithoutCancel(ctx), every, api.App.Dispatch))
	}
	api.Register(mux)
	return closers, nil
}
