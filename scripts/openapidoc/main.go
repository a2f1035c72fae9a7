// Command openapidoc writes the OpenAPI document the gateway serves at
// /openapi.json, built by the gateway's code without a running stack, for
// the validators and client generators of `make openapi-check` to read.
//
//	openapidoc [-o FILE]
//
// It writes standard output when -o is not given.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/socmgmt/socmgmt/gateway"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "openapidoc:", err)
		os.Exit(1)
	}
}

// run writes the document, indented, where args say.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapidoc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the document to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	doc, err := gateway.OpenAPIDocument()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if *out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o600)
}
