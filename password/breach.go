package password

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
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

// DefaultBreachURL is the base URL of Have I Been Pwned's Pwned Passwords range API.
const DefaultBreachURL = "https://api.pwnedpasswords.com"

const (
	breachTimeout = 5 * time.Second
	// maxRangeBody bounds a range response; real ones, padded, are about 40 KB.
	maxRangeBody = 1 << 20
	suffixLen    = 40 - 5 // hex digits of SHA-1 after the 5 that are sent
)

// BreachChecker asks a k-anonymity range API in Have I Been Pwned's format whether a
// password is known from breaches. Only the first 5 hex digits of the password's SHA-1 leave
// the server; the answer lists every known suffix under that prefix, padded with decoys. It
// is safe for concurrent use.
type BreachChecker struct {
	base    string
	client  *http.Client
	timeout time.Duration
}

// NewBreachChecker returns a BreachChecker for the range API at baseURL (DefaultBreachURL
// when empty), sending requests with client (a new http.Client when nil). Each request
// gives up after 5 seconds.
func NewBreachChecker(baseURL string, client *http.Client) *BreachChecker {
	if baseURL == "" {
		baseURL = DefaultBreachURL
	}
	if client == nil {
		client = &http.Client{}
	}
	return &BreachChecker{base: strings.TrimRight(baseURL, "/"), client: client, timeout: breachTimeout}
}

// Breached reports whether password appears in the range API's breach corpus with a count
// above zero (padding entries have count 0). It fails closed: when the API cannot be
// reached, answers with a status other than 200, times out, or sends an oversized or
// malformed response, it returns an EUNAVAILABLE error rather than false.
func (b *BreachChecker) Breached(ctx context.Context, password string) (bool, error) {
	sum := sha1.Sum([]byte(password))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	body, err := b.fetch(ctx, digest[:5])
	if err != nil {
		return false, unavailable(err)
	}
	breached, err := parseRange(body, digest[5:])
	if err != nil {
		return false, unavailable(err)
	}
	return breached, nil
}

// fetch returns the body of the range response for prefix.
func (b *BreachChecker) fetch(ctx context.Context, prefix string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/range/"+prefix, nil)
	if err != nil {
		return nil, errors.New("malformed base URL")
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "skjold")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRangeBody+1))
	if err != nil {
		return nil, withoutURL(err)
	} else if len(body) > maxRangeBody {
		return nil, fmt.Errorf("response over %d bytes", maxRangeBody)
	}
	return body, nil
}

// parseRange reports whether body, lines of "SUFFIX:COUNT" ending in CRLF or LF, lists
// suffix with a count above zero. A line in any other form makes it an error.
func parseRange(body []byte, suffix string) (bool, error) {
	breached := false
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			continue
		}
		s, n, _ := strings.Cut(line, ":")
		count, err := strconv.ParseUint(n, 10, 64)
		if err != nil || len(s) != suffixLen || strings.Trim(s, "0123456789ABCDEFabcdef") != "" {
			return false, errors.New("malformed range response")
		}
		breached = breached || (count > 0 && strings.EqualFold(s, suffix))
	}
	return breached, nil
}

// unavailable wraps cause in the caller-safe EUNAVAILABLE error; cause stays in the
// error's text for the log.
func unavailable(cause error) error {
	return fmt.Errorf("password: breach check: %v: %w", cause,
		skjold.Errorf(skjold.EUNAVAILABLE, "the breached-password service cannot be reached; try again"))
}

// withoutURL drops the request URL from err: its path holds a prefix of the password's hash.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
