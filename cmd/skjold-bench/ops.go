package main

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// createOp returns the create phase's operation: a subject with a unique ref, e-mail
// address and phone number (see population), then a travel_booking record for it, whose id it keeps in ids[i]. run tells
// this run's subjects apart from earlier runs' in the same tenant.
func createOp(run string, ids []string) op {
	return func(ctx context.Context, w *worker, i int) error {
		var sub, rec struct {
			ID string `json:"id"`
		}
		ref := fmt.Sprintf("bench-%s-%d", run, i)
		subject := map[string]string{"ref": ref, "email": ref + "@bench.example", "phone": createdPhone(i)}
		if err := w.call(ctx, "POST /api/v1/subjects", "POST", "/api/v1/subjects", subject, &sub); err != nil {
			return err
		}
		record := map[string]any{"category": "travel_booking", "data": map[string]any{
			"booking_reference": fmt.Sprintf("BR-%d", i), "kind": "flight", "departure_date": "2027-02-14"}}
		path := "/api/v1/subjects/" + sub.ID + "/records"
		if err := w.call(ctx, "POST /api/v1/subjects/{id}/records", "POST", path, record, &rec); err != nil {
			return err
		}
		ids[i] = rec.ID
		return nil
	}
}

// readOp returns the read phase's operation: GET one record chosen at random from ids.
func readOp(ids []string) op {
	return func(ctx context.Context, w *worker, _ int) error {
		id := ids[rand.IntN(len(ids))]
		return w.call(ctx, "GET /api/v1/records/{id}", "GET", "/api/v1/records/"+id, nil, nil)
	}
}

// created returns the ids the create phase filled in, leaving out failed creates.
func created(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}
