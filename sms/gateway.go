package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/skjold-project/skjold"
)

// DefaultBody is the gateway request body when none is configured: JSON with the number,
// the sender name and the text.
const DefaultBody = `{"to":{{json .To}},"from":{{json .From}},"text":{{json .Body}}}`

// GatewayConfig configures a generic HTTPS SMS gateway: Skjold POSTs Body (a Go text
// template over .To, .From and .Body, with the functions json and urlquery) to URL, with
// the header AuthHeader: AuthValue, and takes any 2xx answer as accepted.
type GatewayConfig struct {
	URL         string
	AuthHeader  string // e.g. "Authorization"; "" sends none
	AuthValue   string // e.g. "Bearer …"; a secret
	Body        string // "" for DefaultBody
	ContentType string // "" for application/json
	From        string // the sender name or number the template may use
	Client      *http.Client
}

// Gateway is a skjold.SMSSender through an HTTPS gateway.
type Gateway struct {
	cfg  GatewayConfig
	body *template.Template
}

var _ skjold.SMSSender = (*Gateway)(nil)

// NewGateway checks the configuration: an https URL without credentials in it, a header
// name without line breaks, and a body template that parses. Errors are EINVALID and name
// the setting, never the secret.
func NewGateway(c GatewayConfig) (*Gateway, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, skjold.FieldError("sms_gateway_url", "url", "sms_gateway_url must be an https URL without credentials")
	}
	if strings.ContainsAny(c.AuthHeader+c.AuthValue+c.ContentType, "\r\n") || strings.ContainsAny(c.AuthHeader, " :") {
		return nil, skjold.FieldError("sms_gateway_auth_header", "header", "the gateway's header name and value must be one line, the name without spaces or colons")
	}
	if c.Body == "" {
		c.Body = DefaultBody
	}
	if c.ContentType == "" {
		c.ContentType = "application/json"
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 15 * time.Second}
	}
	t, err := template.New("sms").Option("missingkey=error").Funcs(template.FuncMap{"json": jsonString}).Parse(c.Body)
	if err != nil {
		return nil, skjold.FieldError("sms_gateway_body", "template", "sms_gateway_body is not a valid template: %v", err)
	}
	return &Gateway{cfg: c, body: t}, nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// SendSMS posts m to the gateway. A refusal is reported by its status only: the gateway's
// answer may repeat the number or the text.
func (g *Gateway) SendSMS(ctx context.Context, m skjold.SMS) error {
	to, err := check(m)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if err := g.body.Execute(&body, struct{ To, From, Body string }{to, g.cfg.From, m.Body}); err != nil {
		return skjold.Errorf(skjold.EINVALID, "sms_gateway_body does not apply to a message")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.URL, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", g.cfg.ContentType)
	if g.cfg.AuthHeader != "" {
		req.Header.Set(g.cfg.AuthHeader, g.cfg.AuthValue)
	}
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a key in its query
		}
		return fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "the SMS gateway cannot be reached"), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return skjold.Errorf(skjold.EUNAVAILABLE, "the SMS gateway refused the message with status %d", resp.StatusCode)
	}
	return nil
}
