package client_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/skjold-project/skjold/client"
)

// A booking system looks a traveller up by e-mail address with its tenant token. The
// walkthrough in cmd/skjold/client_test.go runs this and more against a real server.
func Example() {
	token := os.Getenv("SKJOLD_TOKEN")
	c, err := client.NewClientWithResponses("https://127.0.0.1:8443",
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	email := "kari@example.com"
	found, err := c.ListSubjectsWithResponse(context.Background(), &client.ListSubjectsParams{Email: &email})
	if err != nil {
		fmt.Println(err)
		return
	}
	if found.JSON200 != nil {
		for _, s := range found.JSON200.Items {
			fmt.Println(s.Id)
		}
	}
}
