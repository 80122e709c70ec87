package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandFlags returns the flags of each command ("--name" and whether it takes a value), read
// from the commands' own flag sets without running them.
func commandFlags(ctx context.Context) map[string][]*flag.Flag {
	out := map[string][]*flag.Flag{}
	for _, c := range commands {
		e := env{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
			inspect: func(fs *flag.FlagSet) { fs.VisitAll(func(f *flag.Flag) { out[c.name] = append(out[c.name], f) }) }}
		c.run(ctx, e, nil)
	}
	return out
}

// flagNames returns a command's flags as "--name" words.
func flagNames(flags []*flag.Flag) string {
	words := []string{"--help"}
	for _, f := range flags {
		words = append(words, "--"+f.Name)
	}
	return strings.Join(words, " ")
}

func runCompletion(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "completion SHELL", "Print a completion script for SHELL (bash, zsh or fish). Load it with\n"+
		"  bash: source <(skjold completion bash)      (or save it in /etc/bash_completion.d/skjold)\n"+
		"  zsh:  source <(skjold completion zsh)       (or save it as _skjold in a directory of $fpath)\n"+
		"  fish: skjold completion fish > ~/.config/fish/completions/skjold.fish")
	shell, err := parseWithArg(e, fs, args, "give a shell: bash, zsh or fish")
	if err != nil {
		return err
	}
	flags := commandFlags(ctx)
	switch shell {
	case "bash":
		writeBash(e.stdout, flags)
	case "zsh":
		writeZsh(e.stdout, flags)
	case "fish":
		writeFish(e.stdout, flags)
	default:
		return usagef("unknown shell %q: use bash, zsh or fish", shell)
	}
	return nil
}

// caseKey is the shell case pattern that selects a command from its first two words.
func caseKey(name string) string {
	if strings.Contains(name, " ") {
		return `"` + name + `"`
	}
	return `"` + name + ` "*`
}

func writeBash(w io.Writer, flags map[string][]*flag.Flag) {
	names, subs := groups()
	fmt.Fprintf(w, "# bash completion for skjold (skjold completion bash)\n_skjold() {\n"+
		"  local cur=${COMP_WORDS[COMP_CWORD]} words=\n"+
		"  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    words=%q\n", strings.Join(append(names, "help", "--help", "--version"), " "))
	fmt.Fprintf(w, "  elif [ \"$COMP_CWORD\" -eq 2 ] && [[ $cur != -* ]]; then\n    case ${COMP_WORDS[1]} in\n")
	for _, g := range names {
		if len(subs[g]) > 0 {
			fmt.Fprintf(w, "      %s) words=%q ;;\n", g, strings.Join(subs[g], " "))
		}
	}
	fmt.Fprintf(w, "      completion) words=\"bash zsh fish\" ;;\n    esac\n  fi\n")
	fmt.Fprintf(w, "  if [ -z \"$words\" ] && [[ $cur == -* ]]; then\n    case \"${COMP_WORDS[1]} ${COMP_WORDS[2]}\" in\n")
	for _, c := range commands {
		fmt.Fprintf(w, "      %s) words=%q ;;\n", caseKey(c.name), flagNames(flags[c.name]))
	}
	fmt.Fprintf(w, "    esac\n  fi\n  if [ -n \"$words\" ]; then\n    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n  fi\n}\n"+
		"complete -o default -F _skjold skjold\n")
}

func writeZsh(w io.Writer, flags map[string][]*flag.Flag) {
	names, subs := groups()
	fmt.Fprintf(w, "#compdef skjold\n# zsh completion for skjold (skjold completion zsh)\n_skjold() {\n"+
		"  local -a words_\n  if (( CURRENT == 2 )); then\n    words_=(%s)\n", strings.Join(append(names, "help", "--help", "--version"), " "))
	fmt.Fprintf(w, "  elif (( CURRENT == 3 )) && [[ $words[CURRENT] != -* ]]; then\n    case $words[2] in\n")
	for _, g := range names {
		if len(subs[g]) > 0 {
			fmt.Fprintf(w, "      %s) words_=(%s) ;;\n", g, strings.Join(subs[g], " "))
		}
	}
	fmt.Fprintf(w, "      completion) words_=(bash zsh fish) ;;\n    esac\n  fi\n")
	fmt.Fprintf(w, "  if (( ${#words_} == 0 )) && [[ $words[CURRENT] == -* ]]; then\n    case \"$words[2] $words[3]\" in\n")
	for _, c := range commands {
		fmt.Fprintf(w, "      %s) words_=(%s) ;;\n", caseKey(c.name), flagNames(flags[c.name]))
	}
	fmt.Fprintf(w, "    esac\n  fi\n  if (( ${#words_} )); then\n    compadd -- $words_\n  else\n    _files\n  fi\n}\n"+
		"if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n  _skjold \"$@\"\nelse\n  compdef _skjold skjold\nfi\n")
}

func writeFish(w io.Writer, flags map[string][]*flag.Flag) {
	names, subs := groups()
	fmt.Fprintf(w, "# fish completion for skjold (skjold completion fish)\ncomplete -c skjold -f\n")
	fmt.Fprintf(w, "complete -c skjold -n __fish_use_subcommand -a %q\n", strings.Join(append(names, "help"), " "))
	fmt.Fprintf(w, "complete -c skjold -n __fish_use_subcommand -l version -d 'print the version'\n")
	for _, g := range names {
		if len(subs[g]) > 0 {
			fmt.Fprintf(w, "complete -c skjold -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a %q\n",
				g, strings.Join(subs[g], " "), strings.Join(subs[g], " "))
		}
	}
	fmt.Fprintf(w, "complete -c skjold -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	for _, c := range commands {
		cond := "__fish_seen_subcommand_from " + strings.Replace(c.name, " ", "; and __fish_seen_subcommand_from ", 1)
		for _, f := range append([]*flag.Flag{{Name: "help", Usage: "show help"}}, flags[c.name]...) {
			arg := " -r"
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); f.Value == nil || (ok && b.IsBoolFlag()) {
				arg = ""
			}
			_, usage := flag.UnquoteUsage(f)
			if f.Value == nil {
				usage = f.Usage
			}
			usage, _, _ = strings.Cut(usage, "\n")
			fmt.Fprintf(w, "complete -c skjold -n '%s' -l %s%s -d '%s'\n", cond, f.Name, arg, strings.ReplaceAll(usage, "'", `\'`))
		}
	}
}
