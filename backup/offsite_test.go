package backup

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/internal/s3test"
	"github.com/skjold-project/skjold/internal/sshdtest"
	"github.com/skjold-project/skjold/s3"
	"github.com/skjold-project/skjold/sftp"
)

// TestOffsiteEndToEnd runs the scheduled passes against a real OpenSSH server and a real
// S3-protocol server: the local backup, the off-site copy to both, an erasure made after the
// backup, and a drill that restores from every kind of target and erases the subject again
// from the journal copy.
func TestOffsiteEndToEnd(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.seed(3)
	ssh := sshdtest.Start(t)
	sftpTarget, err := sftp.New(sftp.Config{Addr: ssh.Addr, User: ssh.User, KeyFile: ssh.KeyFile,
		KnownHostsFile: ssh.KnownHostsFile, Dir: ssh.Dir})
	must(t, err)
	srv := s3test.Start(t)
	srv.CreateBucket(t, "skjold-backups")
	s3Target, err := s3.New(s3.Config{Endpoint: srv.Endpoint, Bucket: "skjold-backups", Prefix: "node1", AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Region: srv.Region, DisableTLS: true, Timeout: 10 * time.Second})
	must(t, err)
	offsite := []skjold.Target{Retry(sftpTarget, 2, 10*time.Millisecond), Retry(s3Target, 2, 10*time.Millisecond)}
	f.targets = f.targets[:1]
	s, rec := newService(f, offsite, true)
	ctx := t.Context()

	run, err := s.BackupPass(ctx)
	must(t, err)
	_, err = f.db.EraseSubject(f.ctx, f.subjects[0].ID, skjold.ErasedOnRequest)
	must(t, err)
	off, err := s.OffsitePass(ctx)
	if err != nil || off.ManifestID != run.ManifestID || !strings.Contains(off.Note, "2 of 2") {
		t.Fatalf("OffsitePass = %+v, %v", off, err)
	}
	for _, target := range offsite {
		ms, err := List(ctx, target)
		if err != nil || len(ms) != 1 || ms[0].ID != run.ManifestID {
			t.Fatalf("%s holds %v, %v", target.Name(), ms, err)
		}
		rep, err := Drill(ctx, target, s.o.Identities, f.keys)
		if err != nil || !rep.Restored || rep.Replayed != 1 || rep.Decrypted != 2 {
			t.Errorf("drill from %s = %+v, %v; want a restore that erases the subject again", target.Name(), rep, err)
		}
	}
	if !slices.Contains(rec.succeeded, offsite[0].Name()) || !slices.Contains(rec.succeeded, offsite[1].Name()) {
		t.Errorf("observer successes %v", rec.succeeded)
	}
	drill, err := s.DrillPass(ctx)
	if err != nil || strings.Count(drill.Note, "sample decryption") != 3 {
		t.Fatalf("DrillPass = %+v, %v", drill, err)
	}
}
