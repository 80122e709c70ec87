// Package client is a typed Go client for Skjold's HTTP API, generated from http/openapi.json
// by oapi-codegen (pinned below). Regenerate it after changing the document:
//
//	go generate ./client
//
// TestClientIsGenerated fails while the committed client differs from what the document gives.
//
// A program makes a client with NewClientWithResponses and authenticates each request with a
// request editor that sets the bearer token; see the package example.
package client

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../http/openapi.json
