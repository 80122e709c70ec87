package skjold

import "testing"

// TestHostOf: the host of every address form the configuration takes (host:port, a URL, a
// bare name), which the G2 check matches against the sub-processor register.
func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"smtp.relay.example":                     "smtp.relay.example",
		"SMTP.Relay.example:587":                 "smtp.relay.example",
		"https://s3.eu-north-1.amazonaws.com/":   "s3.eu-north-1.amazonaws.com",
		"s3.example.com:9000":                    "s3.example.com",
		"backup@sftp.example.net:22":             "sftp.example.net",
		"[2001:db8::1]:22":                       "2001:db8::1",
		"":                                       "",
		"http://user:pw@minio.internal:9000/bkt": "minio.internal",
	} {
		if got := HostOf(in); got != want {
			t.Errorf("HostOf(%q) = %q, want %q", in, got, want)
		}
	}
	p := &Subprocessor{Hosts: []string{"amazonaws.com", "smtp.relay.example"}}
	for host, want := range map[string]bool{"s3.eu-north-1.amazonaws.com": true, "smtp.relay.example": true,
		"relay.example": false, "notamazonaws.com": false} {
		if got := p.Covers(host); got != want {
			t.Errorf("Covers(%q) = %v, want %v", host, got, want)
		}
	}
}
