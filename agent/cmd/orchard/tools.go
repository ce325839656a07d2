package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/orchard-nsm/orchard/agent/config"
	"github.com/orchard-nsm/orchard/signatures"
)

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "orchard %s\n", version)
	sigs, err := signatures.Embedded()
	if err != nil {
		fmt.Fprintf(stdout, "signatures: %v\n", err)
		return exitUsage
	}
	vs := sigs.Versions()
	files := make([]string, 0, len(vs))
	for f := range vs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(stdout, "signatures %s@%s\n", f, vs[f])
	}
	return exitOK
}

func cmdSignatures(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, signaturesHelp)
		return exitUsage
	}
	switch args[0] {
	case "check":
		fs := newFlagSet("signatures check", stderr)
		if code, ok := parseFlags(fs, args[1:], signaturesHelp, stdout, stderr); !ok {
			return code
		}
		var set *signatures.Set
		var err error
		dir := fs.Arg(0)
		if dir != "" {
			set, err = signatures.LoadWithOverrides(dir)
		} else {
			set, err = signatures.Embedded()
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "signatures ok: %d entries in %d files\n", len(set.Entries()), len(set.Versions()))
		return exitOK
	case "list":
		fs := newFlagSet("signatures list", stderr)
		dir := fs.String("dir", "", "")
		kind := fs.String("kind", "", "")
		platform := fs.String("platform", "", "")
		if code, ok := parseFlags(fs, args[1:], signaturesHelp, stdout, stderr); !ok {
			return code
		}
		var set *signatures.Set
		var err error
		if *dir != "" {
			set, err = signatures.LoadWithOverrides(*dir)
		} else {
			set, err = signatures.Embedded()
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitUsage
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tPLATFORM\tWEIGHT\tPATTERN\tFILE")
		for _, e := range set.Entries() {
			if *kind != "" && e.Kind != *kind || *platform != "" && e.Platform != *platform {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%+.2f\t%s\t%s:%d\n", e.ID, e.Kind, e.Platform, e.Weight, e.Pattern, e.File, e.Line)
		}
		tw.Flush()
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, signaturesHelp)
		return exitOK
	}
	fmt.Fprintf(stderr, "orchard signatures: unknown subcommand %q\n\n%s", args[0], signaturesHelp)
	return exitUsage
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configHelp)
		return exitUsage
	}
	switch args[0] {
	case "check", "show":
		fs := newFlagSet("config "+args[0], stderr)
		if code, ok := parseFlags(fs, args[1:], configHelp, stdout, stderr); !ok {
			return code
		}
		var cfg *config.Config
		var err error
		name := fs.Arg(0)
		if name == "" && args[0] == "check" {
			fmt.Fprintln(stderr, "orchard config check: no file given")
			return exitUsage
		}
		if name != "" {
			cfg, err = config.Load(name)
		} else {
			cfg, err = config.Default()
			name = "(embedded default)"
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "%s: ok\n", name)
		fmt.Fprintf(stdout, "sensor: %s\n", cfg.Sensor)
		for _, s := range cfg.Mail.Servers {
			var protos []string
			for _, p := range s.Protocols {
				protos = append(protos, p.String())
			}
			var addrs []string
			for _, a := range s.Addresses {
				addrs = append(addrs, a.String())
			}
			fmt.Fprintf(stdout, "mail server %s: names [%s] addresses [%s] protocols [%s]\n", s.Name,
				strings.Join(s.Names, " "), strings.Join(addrs, " "), strings.Join(protos, " "))
		}
		fmt.Fprintf(stdout, "verdict threshold %.2f, correlation window %s, suppress %s, %d allowlist entries\n",
			cfg.Verdict.Threshold, cfg.Correlation.Window, cfg.Correlation.Suppress, len(cfg.Allow))
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, configHelp)
		return exitOK
	}
	fmt.Fprintf(stderr, "orchard config: unknown subcommand %q\n\n%s", args[0], configHelp)
	return exitUsage
}
