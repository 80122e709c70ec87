package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/sms"
)

// newSMS returns the text-message sender: the HTTPS gateway in sms_gateway_url, or an outbox
// in <data>/sms-outbox when none is configured.
func newSMS(cfg Config) (skjold.SMSSender, error) {
	if cfg.SMSGatewayURL == "" {
		return sms.NewOutbox(filepath.Join(cfg.Data, "sms-outbox"))
	}
	auth, err := cfg.smsGatewayAuth()
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 15 * time.Second}
	if cfg.SMSGatewayCAFile != "" {
		pem, err := os.ReadFile(cfg.SMSGatewayCAFile)
		if err != nil {
			return nil, fmt.Errorf("sms_gateway_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sms_gateway_ca_file %s holds no PEM certificate", cfg.SMSGatewayCAFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	g, err := sms.NewGateway(sms.GatewayConfig{URL: cfg.SMSGatewayURL, AuthHeader: cfg.SMSGatewayAuthHeader, AuthValue: auth,
		Body: cfg.SMSGatewayBody, ContentType: cfg.SMSGatewayContentType, From: cfg.SMSFrom, Client: client})
	if err != nil {
		return nil, fmt.Errorf("sms gateway: %s", skjold.ErrorMessage(err))
	}
	return g, nil
}

// smsGatewayAuth returns the gateway header's value: sms_gateway_auth, or the first line of
// sms_gateway_auth_file; not both.
func (c *Config) smsGatewayAuth() (string, error) {
	if c.SMSGatewayAuthFile == "" {
		return c.SMSGatewayAuth, nil
	}
	if c.SMSGatewayAuth != "" {
		return "", errors.New("sms_gateway_auth and sms_gateway_auth_file exclude each other: set one")
	}
	b, err := os.ReadFile(c.SMSGatewayAuthFile)
	if err != nil {
		return "", fmt.Errorf("sms_gateway_auth_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("sms_gateway_auth_file %s is empty", c.SMSGatewayAuthFile)
	}
	return line, nil
}
