package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/imports"
	"github.com/skjold-project/skjold/keys"
	"github.com/skjold-project/skjold/store"
)

// maxImportFile bounds the file an import reads into memory.
const maxImportFile = 1 << 30

func runImport(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "import FILE", "Import subjects and their records into a tenant from FILE: CSV, a ZIP of CSV files or an\n"+
		"XLSX workbook, laid out as the export writes it, or any layout with --mapping (a JSON\n"+
		"object of column names to \"field\" or \"category.field\", \"-\" to leave a column out).\n"+
		"Every row is checked as the API checks a new subject; each refused row is reported by\n"+
		"line, field and rule, never by its value. The good rows are written in batches, or\n"+
		"none with --all-or-nothing. A subject whose ref exists already is skipped, so running\n"+
		"the same import again resumes it. Exits 1 when a row was refused.")
	tenantID := fs.String("tenant", "", "the tenant to import into (required)")
	mappingFile := fs.String("mapping", "", "a JSON file mapping the file's columns to fields")
	format := fs.String("format", "", "csv, zip or xlsx (default: detected from the file)")
	allOrNothing := fs.Bool("all-or-nothing", false, "write nothing when any row is refused")
	batch := fs.Int("batch", imports.DefaultBatch, "subjects written in one transaction")
	load := configFlags(fs, e.getenv)
	asJSON := jsonFlag(fs)
	file, err := parseWithArg(e, fs, args, "give one file to import (see \"skjold import --help\")")
	if err != nil {
		return err
	}
	if *tenantID == "" {
		return usagef("--tenant is required (see \"skjold tenant list\")")
	}
	if *batch < 1 {
		return usagef("--batch must be at least 1")
	}
	opt := imports.Options{Format: *format, AllOrNothing: *allOrNothing, Batch: *batch}
	if *mappingFile != "" {
		data, err := os.ReadFile(*mappingFile)
		if err != nil {
			return err
		}
		if opt.Mapping, err = imports.ParseMapping(data); err != nil {
			return err
		}
	}
	data, err := readImportFile(file)
	if err != nil {
		return err
	}
	return withStoreParsed(ctx, e, load, func(ctx context.Context, db *store.DB, _ *keys.Keyring, _ Config) error {
		ctx = skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "cli", TenantID: *tenantID, Source: "local", Local: true,
			Scopes: []string{skjold.ScopeRead, skjold.ScopeWrite}})
		p := newProgress(e, "import", "subjects")
		opt.Progress = func(done, total int) { p.update(int64(done), int64(total)) }
		rep, err := imports.Run(ctx, db, db, data, opt)
		if err != nil {
			return err
		}
		p.finish()
		if *asJSON {
			if err := printJSON(e.stdout, rep); err != nil {
				return err
			}
		} else {
			printImportReport(e.stdout, rep, *allOrNothing)
		}
		if rep.Refused > 0 {
			return fmt.Errorf("%d of %d subjects refused", rep.Refused, rep.Subjects)
		}
		return nil
	})
}

// readImportFile reads the file to import, refusing one too large to hold in memory.
func readImportFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxImportFile {
		return nil, fmt.Errorf("%s is larger than 1 GiB: split it", name)
	}
	return data, nil
}

// printImportReport prints what an import did, and each refused row's line, field and rule.
func printImportReport(w io.Writer, rep *imports.Report, allOrNothing bool) {
	fmt.Fprintf(w, "%d subjects and %d records in the file: %d imported, %d imported before (skipped), %d refused\n",
		rep.Subjects, rep.Records, rep.Imported, rep.Skipped, rep.Refused)
	if allOrNothing && rep.Refused > 0 {
		fmt.Fprintln(w, "nothing was written (--all-or-nothing)")
	}
	for _, p := range rep.Problems {
		where := fmt.Sprintf("line %d", p.Line)
		if p.Table != "" {
			where = p.Table + " " + where
		}
		field := p.Field
		if field == "" {
			field = "-"
		}
		fmt.Fprintf(w, "%s: %s: %s (%s)\n", where, field, p.Rule, p.Message)
	}
}
