package main

import (
	"testing"

	"github.com/havenhealth/haven/libs/service/servicetest"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	servicetest.CheckContract(t, "../../api/openapi.yaml", newSpec(&Config{}))
}

func TestSenders_OnlyConfiguredChannelsAndCheckedSettings(t *testing.T) {
	cfg := &Config{}
	got, cb, err := senders(cfg)
	if err != nil || len(got) != 0 || cb != nil {
		t.Fatalf("nothing configured: %v %v %v", got, cb, err)
	}
	cfg.Mail.SMTPAddr, cfg.Mail.From, cfg.Mail.TLS = "mail.example.org:587", "clinic@example.org", "starttls"
	cfg.SMS.AccountSID, cfg.SMS.AuthToken, cfg.SMS.From = "AC1", "token", "+15005550006"
	got, cb, err = senders(cfg)
	if err != nil || len(got) != 2 || cb == nil {
		t.Fatalf("both configured: %v %v %v", got, cb, err)
	}
	for name, bad := range map[string]func(c *Config){
		"tls policy":  func(c *Config) { c.Mail.TLS = "sometimes" },
		"smtp addr":   func(c *Config) { c.Mail.SMTPAddr = "mail.example.org" },
		"from":        func(c *Config) { c.Mail.From = "" },
		"sms token":   func(c *Config) { c.SMS.AuthToken = "" },
		"sms api url": func(c *Config) { c.SMS.APIURL = "ftp://sink" },
	} {
		c := *cfg
		bad(&c)
		if _, _, err := senders(&c); err == nil {
			t.Errorf("%s: bad settings accepted", name)
		}
	}
}
