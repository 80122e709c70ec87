package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oapi-codegen/runtime/types"
	"github.com/skjold-project/skjold/client"
)

// TestGoClientWalkthrough does the README's walkthrough through the generated Go client
// (package client) against the real server: the client is what other Go programs import, so
// its requests and the server's answers must fit each other, not only the document.
func TestGoClientWalkthrough(t *testing.T) {
	data := filepath.Join(t.TempDir(), "skjold-data")
	s := startServer(t, data, nil)
	ctx := context.Background()
	bearer := func(token string) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}
	}
	c, err := client.NewClientWithResponses(s.url, client.WithHTTPClient(s.client))
	if err != nil {
		t.Fatal(err)
	}

	operator := bearer(readToken(t, data))
	tenant, err := c.CreateTenantWithResponse(ctx, client.CreateTenantJSONRequestBody{Name: "Nordlys Travel AS"}, operator)
	if err != nil || tenant.JSON201 == nil || tenant.JSON201.Token.Secret == nil {
		t.Fatalf("create tenant: %v %d %s", err, tenant.StatusCode(), tenant.Body)
	}
	tok := bearer(*tenant.JSON201.Token.Secret)

	// A traveller and a booking in one request.
	var note, reference client.RecordCreate_Data_AdditionalProperties
	if err := note.FromRecordCreateData0(secretNote); err != nil {
		t.Fatal(err)
	}
	if err := reference.FromRecordCreateData0("NL-4711"); err != nil {
		t.Fatal(err)
	}
	kind, departure := client.RecordCreate_Data_AdditionalProperties{}, client.RecordCreate_Data_AdditionalProperties{}
	if err := kind.FromRecordCreateData0("flight"); err != nil {
		t.Fatal(err)
	}
	if err := departure.FromRecordCreateData0("2027-02-14"); err != nil {
		t.Fatal(err)
	}
	booking := map[string]client.RecordCreate_Data_AdditionalProperties{
		"booking_reference": reference, "kind": kind, "departure_date": departure, "notes": note}
	ref, email, phone, name := "C-1001", types.Email(secretEmail), secretPhone, secretName
	created, err := c.CreateSubjectWithResponse(ctx, nil, client.SubjectCreate{Ref: &ref, Email: &email, Phone: &phone, Name: &name,
		Records: &[]client.RecordCreate{{Category: "travel_booking", Data: &booking}}}, tok)
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create subject with a booking: %v %d %s", err, created.StatusCode(), created.Body)
	}
	if created.JSON201.Records == nil || len(*created.JSON201.Records) != 1 {
		t.Fatalf("the booking was not created with the subject: %s", created.Body)
	}
	if loc := created.HTTPResponse.Header.Get("Location"); loc != "/api/v1/subjects/"+created.JSON201.Id.String() {
		t.Errorf("Location %q", loc)
	}

	// Looked up by e-mail in another case: the blind index is over normalised values.
	upper := strings.ToUpper(secretEmail)
	found, err := c.ListSubjectsWithResponse(ctx, &client.ListSubjectsParams{Email: &upper}, tok)
	if err != nil || found.JSON200 == nil || len(found.JSON200.Items) != 1 || found.JSON200.Items[0].Id != created.JSON201.Id {
		t.Fatalf("look-up by e-mail: %v %d %s", err, found.StatusCode(), found.Body)
	}

	// A refused value comes back as a problem document the client decodes.
	bad := strings.Repeat("x", 10_000)
	refused, err := c.CreateSubjectWithResponse(ctx, nil, client.SubjectCreate{Name: &bad}, tok)
	if err != nil {
		t.Fatalf("a name of 10,000 characters: %v", err)
	}
	if refused.ApplicationproblemJSON400 == nil {
		t.Fatalf("a name of 10,000 characters: %v %d %s", err, refused.StatusCode(), refused.Body)
	}

	events, err := c.ListAuditEventsWithResponse(ctx, &client.ListAuditEventsParams{}, tok)
	if err != nil || events.JSON200 == nil || len(events.JSON200.Items) < 3 {
		t.Fatalf("audit: %v %d %s", err, events.StatusCode(), events.Body)
	}
	verified, err := c.VerifyAuditChainWithResponse(ctx, operator)
	if err != nil || verified.StatusCode() != http.StatusOK {
		t.Fatalf("verify the audit chain: %v %d %s", err, verified.StatusCode(), verified.Body)
	}
}
