package main

import (
	"slices"
	"testing"

	"github.com/skjold-project/skjold"
)

// TestProcessorHosts: every outside party the configuration sends personal data to (the SMTP
// relay, the SMS gateway, the backup targets) is named for the G2 check, by host only.
func TestProcessorHosts(t *testing.T) {
	got := processorHosts(Config{SMTPHost: "smtp.relay.example:587", SMSGatewayURL: "https://api.sms.example/v1/send?key=x",
		BackupS3Endpoint: "https://s3.eu-north-1.amazonaws.com", BackupSFTPAddr: "backup.example.net:22"})
	want := []skjold.ProcessorHost{{Role: "smtp_relay", Host: "smtp.relay.example"}, {Role: "sms_gateway", Host: "api.sms.example"},
		{Role: "backup_s3", Host: "s3.eu-north-1.amazonaws.com"}, {Role: "backup_sftp", Host: "backup.example.net"}}
	if !slices.Equal(got, want) {
		t.Fatalf("processorHosts = %+v, want %+v", got, want)
	}
	if got := processorHosts(Config{}); len(got) != 0 {
		t.Fatalf("nothing configured: %+v", got)
	}
}
