package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// requestTimeout bounds one HTTP request, so that a stuck server cannot hang a client.
const requestTimeout = 30 * time.Second

// newHTTPClient returns the one client all bench clients share: HTTP/1.1 over TLS 1.2+,
// with a keep-alive connection per bench client to the one host, so that the server sees
// as many connections as there are clients and no handshake happens after warm-up.
func newHTTPClient(c config) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure}
	if c.caCert != "" {
		pem, err := os.ReadFile(c.caCert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate found", c.caCert)
		}
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		Protocols:             &protocols,
		MaxIdleConns:          c.clients,
		MaxIdleConnsPerHost:   c.clients,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		DisableCompression:    true,
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout}, nil
}

// api calls the Skjold REST API with one bearer token.
type api struct {
	http  *http.Client
	base  string
	token string
}

// call sends method path with body as JSON (none when nil) and decodes a 2xx response into
// out (discarded when nil). route names the request in errors, so that errors for different
// ids read the same. Every response body is read to the end, to keep the connection alive.
func (a *api) call(ctx context.Context, route, method, path string, body, out any) error {
	req, err := a.request(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", route, err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds ids: leave it out
		}
		return fmt.Errorf("%s: %w", route, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", route, statusError(resp))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else if err = json.NewDecoder(resp.Body).Decode(out); err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return fmt.Errorf("%s: reading response: %w", route, err)
	}
	return nil
}

func (a *api) request(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	return req, nil
}

// statusError describes a non-2xx response by its status and Skjold's error body.
func statusError(resp *http.Response) string {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, resp.Body)
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return fmt.Sprintf("HTTP %d %s: %s", resp.StatusCode, body.Error.Code, body.Error.Message)
}

// tenantToken returns the token to bench with: the given one, or the first token of a fresh
// tenant created with the operator token, and the tenant's id ("" when not created).
func tenantToken(ctx context.Context, a *api, c config) (token, tenantID string, err error) {
	if c.token != "" {
		return c.token, "", nil
	}
	raw, err := os.ReadFile(c.operatorTokenFile)
	if err != nil {
		return "", "", fmt.Errorf("no --token, and the operator token could not be read: %w", err)
	}
	op := &api{http: a.http, base: a.base, token: strings.TrimSpace(string(raw))}
	var resp struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
		Token struct {
			Secret string `json:"secret"`
		} `json:"token"`
	}
	name := "bench-" + time.Now().UTC().Format("20060102-150405.000")
	if err := op.call(ctx, "POST /api/v1/tenants", "POST", "/api/v1/tenants", map[string]string{"name": name}, &resp); err != nil {
		return "", "", fmt.Errorf("create a tenant: %w", err)
	}
	if resp.Token.Secret == "" {
		return "", "", errors.New("create a tenant: the response holds no token secret")
	}
	if err := raiseReadBudget(ctx, op, &api{http: a.http, base: a.base, token: resp.Token.Secret}); err != nil {
		return "", "", err
	}
	return resp.Token.Secret, resp.Tenant.ID, nil
}

// benchReadBudget is the most subjects a minute and a day Skjold lets an operator allow.
const benchReadBudget = 100_000_000

// raiseReadBudget lifts the read budget of the bench's own tenant: every read is charged to
// the reading token [B16], and a load test reads far more in a minute than the default
// budget allows a person or an integration. It raises the operator's bounds (the defaults
// of other tenants stay as they are) and sets the tenant's budget to them.
func raiseReadBudget(ctx context.Context, op, tenant *api) error {
	const route = "PUT /api/v1/settings/read-budget"
	bounds := map[string]int{"max_per_minute": benchReadBudget, "max_per_day": benchReadBudget}
	if err := op.call(ctx, route, "PUT", "/api/v1/settings/read-budget", bounds, nil); err != nil {
		return fmt.Errorf("raise the operator's read budget bounds: %w", err)
	}
	own := map[string]int{"per_minute": benchReadBudget, "per_day": benchReadBudget}
	if err := tenant.call(ctx, route, "PUT", "/api/v1/settings/read-budget", own, nil); err != nil {
		return fmt.Errorf("raise the bench tenant's read budget: %w", err)
	}
	return nil
}
