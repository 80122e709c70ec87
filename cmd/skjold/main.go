// Command skjold runs the Skjold data-protection server and its administration commands.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "skjold:", err)
		os.Exit(exitCode(err))
	}
}
