package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
)

// Exit statuses: a command that worked, one that failed, and one that was called wrongly.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a command called wrongly (an unknown command or flag, a missing or extra
// argument): the program exits with status 2, not 1, so scripts can tell a typo from a failure.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode returns the exit status for what run returned.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u):
		return exitUsage
	}
	return exitFailure
}

// globalFlags are the configuration flags every command that opens the database shows in its
// help; the other server settings are accepted too, and listed by "skjold serve --help".
var globalFlags = []string{"config", "data", "database", "master-key-file"}

// newFlagSet returns a flag set for a command. The flag package prints nothing itself:
// parseArgs prints the help to stdout on --help and returns other mistakes as usage errors.
func newFlagSet(e env, name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("skjold "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printHelp(fs.Output(), fs, summary) }
	return fs
}

// parseArgs parses a command's flags: --help prints the command's help (and returns
// flag.ErrHelp, which run treats as success); a wrong flag is a usage error.
func parseArgs(e env, fs *flag.FlagSet, args []string) error {
	if e.inspect != nil {
		e.inspect(fs)
		return flag.ErrHelp
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		fs.SetOutput(io.Discard)
		return err
	}
	if err != nil {
		return usagef("%v (see \"%s --help\")", err, commandName(fs))
	}
	return nil
}

// commandName is a flag set's command without its positional placeholders ("skjold backup verify").
func commandName(fs *flag.FlagSet) string {
	var words []string
	for _, w := range strings.Fields(fs.Name()) {
		if strings.ToUpper(w) == w {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// noArgs refuses positional arguments after the flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see \"%s --help\")", fs.Arg(0), commandName(fs))
	}
	return nil
}

// printHelp prints a command's help: its own flags, then a short global group; only serve,
// which is configured by them, lists every server setting.
func printHelp(w io.Writer, fs *flag.FlagSet, summary string) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n", fs.Name(), summary)
	server := map[string]bool{"config": true}
	for _, s := range settings {
		server[s.flag] = true
	}
	var own, global, rest []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		switch {
		case !server[f.Name]:
			own = append(own, f)
		case slices.Contains(globalFlags, f.Name):
			global = append(global, f)
		default:
			rest = append(rest, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, own)
	}
	if fs.Name() == "skjold serve" {
		fmt.Fprintf(w, "\nSettings (also in the config file as name_with_underscores, and as SKJOLD_NAME):\n")
		printFlags(w, append(global, rest...))
	} else if len(global) > 0 {
		fmt.Fprintf(w, "\nGlobal flags:\n")
		printFlags(w, global)
	}
	fmt.Fprintf(w, "  -h, --help\n        show this help\n")
	if len(rest) > 0 && fs.Name() != "skjold serve" {
		fmt.Fprintf(w, "\nEvery server setting is accepted too (see \"skjold serve --help\").\n")
	}
}

// printFlags prints flags as "--name VALUE" with their usage on the next line.
func printFlags(w io.Writer, flags []*flag.Flag) {
	for _, f := range flags {
		kind, usage := flag.UnquoteUsage(f)
		kind = placeholder(f.Name, kind)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(usage, "\n", "\n        "))
	}
}

// placeholder names a flag's value by what it is (FILE, DIR, URL, HOST:PORT) rather than by
// its Go type.
func placeholder(name, kind string) string {
	switch {
	case kind != "string":
		return strings.ToUpper(kind)
	case strings.HasSuffix(name, "-file") || name == "config" || name == "out" || name == "identity" ||
		name == "journal" || strings.HasSuffix(name, "known-hosts") || name == "tls-cert" || name == "tls-key":
		return "FILE"
	case name == "data" || strings.HasSuffix(name, "-dir") || strings.HasSuffix(name, "-dirs"):
		return "DIR"
	case name == "addr" || strings.HasSuffix(name, "-addr"):
		return "HOST:PORT"
	case name == "tenant" || name == "backup":
		return "ID"
	case strings.HasSuffix(name, "-url") || name == "database":
		return "URL"
	}
	return "VALUE"
}

// groups returns the command groups in the order of the command list: a group is the first
// word of a command, with the second words under it ("tenant" → create, list).
func groups() (names []string, subs map[string][]string) {
	subs = map[string][]string{}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if _, ok := subs[words[0]]; !ok {
			names = append(names, words[0])
			subs[words[0]] = nil
		}
		if len(words) > 1 {
			subs[words[0]] = append(subs[words[0]], words[1])
		}
	}
	return names, subs
}

const intro = `Skjold keeps a business's privacy promises in code: an encrypted personal-data vault
with an audited REST API.
`

// printUsage prints the top-level help: every command with its one-line summary.
func printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s\nUsage: skjold <command> [flags]\n\nCommands:\n", intro)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nGlobal flags:\n"+
		"  --config FILE, --data DIR, --database URL, --master-key-file FILE\n"+
		"        where the configuration, data directory, database and master key are\n"+
		"  --json\n        print the result as JSON (every command that prints one)\n"+
		"  -h, --help\n        show help (also \"skjold <group> --help\", e.g. \"skjold backup --help\")\n"+
		"  --version\n        print the version\n"+
		"\nRun \"skjold <command> --help\" for a command's flags.\n"+
		"Exit status: 0 when the command worked, 1 when it failed, 2 when it was called wrongly.\n")
}

// printGroup prints the commands of one group ("skjold tenant --help").
func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: skjold %s <command> [flags]\n\nCommands:\n", group)
	width := 0
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nRun \"skjold %s <command> --help\" for a command's flags.\n", group)
}

// buildVersion is the stamped version, or else what the Go toolchain recorded in the binary:
// the module version for "go install …@v1.2.3", or the VCS revision (with "+dirty" for a
// modified work tree) for a build from a checkout.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return version
	}
	return "dev-" + rev[:min(12, len(rev))] + dirty
}

// jsonFlag adds --json to a command that prints a result.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print the result as JSON")
}

// redactDSN hides a password in a postgres:// URL; a directory is returned as it is.
func redactDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil {
		q := u.Query()
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		return u.Redacted()
	}
	return "(unparsable URL, not shown)"
}
