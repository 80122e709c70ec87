// Package alert delivers Skjold's security alerts to an outside system as signed webhooks
// [F1].
//
// # Signature scheme
//
// Each alert is one HTTPS POST whose body is the event as JSON, with these headers:
//
//	Content-Type: application/json
//	Skjold-Timestamp: 1773483300
//	Skjold-Signature: sha256=5d41402abc4b2a76b9719d911017c592...
//
// Skjold-Timestamp is the time of signing in Unix seconds. Skjold-Signature is "sha256="
// and the lower-case hex HMAC-SHA-256, keyed with the shared secret, of the timestamp
// header's value, one ".", and the exact body bytes:
//
//	HMAC-SHA-256(secret, timestamp + "." + body)
//
// A receiver recomputes the HMAC over the raw body (before parsing the JSON), compares it in
// constant time, and rejects a timestamp more than a few minutes from its own clock, so that
// a captured request cannot be replayed later. Verify does all three.
package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skjold-project/skjold"
)

// Header names of a webhook request.
const (
	HeaderTimestamp = "Skjold-Timestamp"
	HeaderSignature = "Skjold-Signature"
)

const (
	// DefaultTimeout bounds one delivery when the Client sets no timeout of its own.
	DefaultTimeout = 10 * time.Second
	// DefaultTolerance is the clock difference Verify accepts when given none.
	DefaultTolerance = 5 * time.Minute
	// MinSecretSize is the shortest secret a Webhook accepts.
	MinSecretSize = 16

	signaturePrefix = "sha256="
)

// defaultClient follows no redirects: a redirect would send the signed alert somewhere
// nobody configured, so it counts as a failed delivery.
var defaultClient = &http.Client{
	Timeout:       DefaultTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Webhook posts alerts to one receiver. Retries are the caller's business.
type Webhook struct {
	// URL is the receiver's https:// address. It may hold a token, so no error quotes it.
	URL string
	// Secret keys the signature; at least MinSecretSize bytes, shared with the receiver.
	Secret []byte
	// Client sends the request; nil means one that follows no redirects and times out after
	// DefaultTimeout. A client without a Timeout is bounded at DefaultTimeout too.
	Client *http.Client
}

// Validate checks the configuration. Errors: EINVALID FieldErrors for "url" (rule "https")
// and "secret" (rule "length").
func (w *Webhook) Validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return skjold.FieldError("url", "https", "the alert webhook URL must be an https:// URL")
	}
	if len(w.Secret) < MinSecretSize {
		return skjold.FieldError("secret", "length", "the alert webhook secret must be at least %d bytes", MinSecretSize)
	}
	return nil
}

// Send posts event, encoded as JSON and signed as the package documentation describes, and
// returns nil once the receiver has answered with a 2xx status. Errors: EINVALID from
// Validate, before anything is sent; EUNAVAILABLE when the receiver cannot be reached, does
// not answer in time, or answers with another status (the error then wraps ctx's error if
// ctx ended first); an internal error when event cannot be encoded.
func (w *Webhook) Send(ctx context.Context, event any) error {
	if err := w.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("alert: encode event: %w", err)
	}
	client := w.Client
	if client == nil {
		client = defaultClient
	}
	if client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert: new request: %w", stripURL(err))
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signaturePrefix+hex.EncodeToString(sign(w.Secret, ts, body)))

	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("%w: %w", skjold.Errorf(skjold.EUNAVAILABLE, "the alert receiver cannot be reached"), stripURL(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection can be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return skjold.Errorf(skjold.EUNAVAILABLE, "the alert receiver answered with status %d", resp.StatusCode)
	}
	return nil
}

// Verify checks a webhook request as a receiver must: signature is the Skjold-Signature
// header's value, timestamp the Skjold-Timestamp header's, body the raw request body. It
// returns nil when the timestamp is within tolerance of now (either way; 0 means
// DefaultTolerance) and signature is the HMAC of timestamp and body under secret, compared
// in constant time. Errors: EUNAUTHORIZED, for an empty secret too.
func Verify(secret, timestamp, body, signature string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if secret == "" {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "no webhook secret to verify with")
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "the webhook timestamp is not a number of Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "the webhook timestamp is too far from the current time")
	}
	hexMAC, ok := strings.CutPrefix(signature, signaturePrefix)
	mac, err := hex.DecodeString(hexMAC)
	if !ok || err != nil {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "the webhook signature is not %s<hex>", signaturePrefix)
	}
	if !hmac.Equal(mac, sign([]byte(secret), timestamp, []byte(body))) {
		return skjold.Errorf(skjold.EUNAUTHORIZED, "the webhook signature does not match")
	}
	return nil
}

// sign returns HMAC-SHA-256(secret, timestamp + "." + body).
func sign(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return m.Sum(nil)
}

// stripURL drops the *url.Error layer, whose text quotes the URL and so any token in it.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
