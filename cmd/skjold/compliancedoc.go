package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/compliancedoc"
	"github.com/skjold-project/skjold/document"
	"github.com/skjold-project/skjold/i18n"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// subProcessors lists where the installation keeps or sends personal data, from its
// configuration: the database, the SMTP relay, the backup targets [G2, G3]. It stands in for
// the sub-processor register until one exists; no secret (password, key, user name) is named.
func subProcessors(cfg Config) []skjold.SubProcessor {
	var out []skjold.SubProcessor
	if cfg.Database == "" {
		out = append(out, skjold.SubProcessor{Name: "SQLite", Service: "storage", Location: "this server, in its data directory"})
	} else {
		out = append(out, skjold.SubProcessor{Name: "PostgreSQL", Service: "storage", Location: urlHost(cfg.Database)})
	}
	if cfg.SMTPHost != "" {
		out = append(out, skjold.SubProcessor{Name: cfg.SMTPHost, Service: "email", Location: cfg.SMTPHost})
	}
	for _, dir := range strings.Split(cfg.BackupDirs, ",") {
		if dir = strings.TrimSpace(dir); dir != "" {
			out = append(out, skjold.SubProcessor{Name: "local", Service: "backup", Location: "this server (" + dir + ")"})
		}
	}
	if cfg.BackupSFTPAddr != "" {
		host, _, err := net.SplitHostPort(cfg.BackupSFTPAddr)
		if err != nil {
			host = cfg.BackupSFTPAddr
		}
		out = append(out, skjold.SubProcessor{Name: "SFTP", Service: "backup", Location: host})
	}
	if cfg.BackupS3Endpoint != "" {
		loc := urlHost(cfg.BackupS3Endpoint)
		if cfg.BackupS3Region != "" {
			loc += " (" + cfg.BackupS3Region + ")"
		}
		out = append(out, skjold.SubProcessor{Name: "S3: " + cfg.BackupS3Bucket, Service: "backup", Location: loc})
	}
	return out
}

// urlHost returns the host of a URL such as postgres://user:pw@db.example:5432/skjold,
// leaving out the credentials.
func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.LastIndex(u, "@"); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	if h, _, err := net.SplitHostPort(u); err == nil {
		return h
	}
	return u
}

// runComplianceDocuments writes the compliance documents as PDF files, one per kind and
// language: <kind>-<lang>.pdf in --out.
func runComplianceDocuments(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "compliance documents", "Write the technical and organisational measures (toms) and the records of\n"+
		"processing (ropa) as PDF files <kind>-<lang>.pdf, generated from live state: the\n"+
		"operator's (as processor), or a tenant's with --tenant.")
	out := fs.String("out", "", "directory to write the PDF files to (required)")
	tenant := fs.String("tenant", "", "the tenant's id; empty for the operator's documents")
	langs := fs.String("lang", strings.Join(i18n.Languages, ","), "languages, comma-separated (en, nb, pl)")
	kinds := fs.String("kind", strings.Join(skjold.DocumentKinds, ","), "documents, comma-separated (toms, ropa)")
	return withStoreConfig(ctx, e, fs, args, func(ctx context.Context, db *store.DB, _ *keys.Keyring, cfg Config) error {
		if *out == "" {
			return skjold.FieldError("out", "required", "--out names the directory to write to")
		}
		b, err := i18n.New(nil)
		if err != nil {
			return err
		}
		f, err := db.DocumentFacts(ctx, *tenant)
		if err != nil {
			return err
		}
		f.SubProcessors = subProcessors(cfg)
		if err := os.MkdirAll(*out, 0o750); err != nil {
			return err
		}
		for _, kind := range strings.Split(*kinds, ",") {
			for _, lang := range strings.Split(*langs, ",") {
				if !i18n.Supported(lang) {
					return skjold.FieldError("lang", "enum", "--lang takes en, nb and pl")
				}
				d, err := compliancedoc.Generate(kind, b.Get(lang), f, f.CheckedAt)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := document.WritePDF(&buf, d); err != nil {
					return err
				}
				name := filepath.Join(*out, kind+"-"+lang+".pdf")
				if err := os.WriteFile(name, buf.Bytes(), 0o640); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, name)
			}
		}
		return nil
	})
}
