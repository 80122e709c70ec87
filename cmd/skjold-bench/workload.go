package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
)

// population is what the bench knows about its tenant's subjects, so that it can look up
// subjects that exist without keeping their addresses: subject i of the create phase and
// pre-loaded subject i each have an e-mail address and a phone number made from i.
type population struct {
	run     string
	created int          // subjects the create phase made (ids 0 … created-1)
	seeded  int          // subjects pre-loaded for --growth (0 … seeded-1)
	records []string     // record ids of the create phase, for reads by id
	inline  atomic.Int64 // one-request creates made so far, numbering their subjects
}

func (p *population) createdEmail(i int) string {
	return fmt.Sprintf("bench-%s-%d@bench.example", p.run, i)
}
func (p *population) seedEmail(i int) string {
	return fmt.Sprintf("seed-%s-%d@bench.example", p.run, i)
}

// Phone numbers: 12 digits, the first after the country code telling the kinds apart.
func createdPhone(i int) string { return fmt.Sprintf("+47 1%09d", i) }
func seedPhone(i int) string    { return fmt.Sprintf("+47 2%09d", i) }
func inlinePhone(i int) string  { return fmt.Sprintf("+47 3%09d", i) }

// pick returns the e-mail address and phone number of a random subject that exists.
func (p *population) pick() (email, phone string) {
	i := rand.IntN(p.created + p.seeded)
	if i < p.created {
		return p.createdEmail(i), createdPhone(i)
	}
	i -= p.created
	return p.seedEmail(i), seedPhone(i)
}

// lookupOp returns the operation of a look-up phase: GET /api/v1/subjects?email=… (or
// phone=…) for a random subject of the tenant. Finding nothing counts as an error.
func lookupOp(p *population, by string) op {
	return func(ctx context.Context, w *worker, _ int) error {
		email, phone := p.pick()
		value := email
		if by == "phone" {
			value = phone
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		route := "GET /api/v1/subjects?" + by
		if err := w.call(ctx, route, "GET", "/api/v1/subjects?"+by+"="+url.QueryEscape(value), nil, &page); err != nil {
			return err
		}
		if len(page.Items) == 0 {
			err := errors.New(route + ": found no subject")
			w.errors++
			w.messages = addMessage(w.messages, err.Error())
			return err
		}
		return nil
	}
}

// inlineCreateOp returns the operation of the one-request create phase: a subject with a
// travel_booking record inline, in one POST.
func inlineCreateOp(p *population) op {
	return func(ctx context.Context, w *worker, _ int) error {
		i := int(p.inline.Add(1) - 1)
		ref := fmt.Sprintf("inline-%s-%d", p.run, i)
		body := map[string]any{"ref": ref, "email": ref + "@bench.example", "phone": inlinePhone(i),
			"records": []map[string]any{{"category": "travel_booking", "data": map[string]any{
				"booking_reference": fmt.Sprintf("IR-%d", i), "kind": "flight", "departure_date": "2027-02-14"}}}}
		return w.call(ctx, "POST /api/v1/subjects (records inline)", "POST", "/api/v1/subjects", body, nil)
	}
}

// mixedOp returns the mixed workload: 70 % look-ups (half by e-mail, half by phone), 20 %
// audited record reads by id, 10 % one-request creates.
func mixedOp(p *population) op {
	email, phone, create := lookupOp(p, "email"), lookupOp(p, "phone"), inlineCreateOp(p)
	read := readOp(p.records)
	return func(ctx context.Context, w *worker, i int) error {
		switch n := rand.IntN(100); {
		case n < 35:
			return email(ctx, w, i)
		case n < 70:
			return phone(ctx, w, i)
		case n < 90 && len(p.records) > 0:
			return read(ctx, w, i)
		default:
			return create(ctx, w, i)
		}
	}
}
