// Command orchard is the orchard sensor: offline analysis of capture files,
// live capture on a gateway, and tools for its signature and config files.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK       = 0
	exitFileErr  = 1 // a file could not be read
	exitUsage    = 2 // bad usage, config or signatures
	exitInternal = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainHelp)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "analyze", "analyse":
		return cmdAnalyze(rest, stdin, stdout, stderr)
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "signatures":
		return cmdSignatures(rest, stdout, stderr)
	case "config":
		return cmdConfig(rest, stdout, stderr)
	case "version", "--version":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		if len(rest) > 0 {
			if h, ok := helps[rest[0]]; ok {
				fmt.Fprint(stdout, h)
				return exitOK
			}
			fmt.Fprintf(stderr, "orchard: no help for %q\n", rest[0])
			return exitUsage
		}
		fmt.Fprint(stdout, mainHelp)
		return exitOK
	}
	fmt.Fprintf(stderr, "orchard: unknown command %q\n\n%s", cmd, mainHelp)
	return exitUsage
}

var helps = map[string]string{
	"analyze":    analyzeHelp,
	"analyse":    analyzeHelp,
	"signatures": signaturesHelp,
	"config":     configHelp,
	"run":        runHelp,
}
