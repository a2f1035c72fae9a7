// Command images builds one OCI image per socmgmt program without a
// container daemon: a static Go binary in one layer over scratch, with
// fixed file times, so that the same commit gives the same digests.
//
// For each program it writes <out>/<program>/, an OCI image layout (for
// skopeo or crane to push), and <out>/<program>.tar, which docker load
// accepts, and prints the image's digest and compressed size. `make
// images` runs it from the repository root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

// config is what one run builds, from its flags.
type config struct {
	// root is the repository root: the module the programs are built from.
	root string
	// out is the directory the images are written to.
	out string
	// programs are the programs to build.
	programs []program
	stamp    stamp
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository root `directory`")
	out := fs.String("out", "bin/images", "`directory` the images are written to")
	names := fs.String("programs", "", "comma-separated programs to build (default: all)")
	tag := fs.String("tag", "dev", "the images' tag and version label")
	revision := fs.String("revision", "unknown", "the git commit the images are built from (label)")
	epoch := fs.Int64("source-date-epoch", 0, "the commit's time in Unix seconds: every file's time and the images' creation time")
	goarch := fs.String("goarch", runtime.GOARCH, "the architecture to build for")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *tag == "" || strings.ContainsAny(*tag, ":/@ ") {
		return config{}, fmt.Errorf("--tag %q is not an image tag", *tag)
	}
	c := config{root: *root, out: *out, programs: programs,
		stamp: stamp{tag: *tag, revision: *revision, created: time.Unix(*epoch, 0).UTC(), goarch: *goarch}}
	if *names != "" {
		c.programs = nil
		for name := range strings.SplitSeq(*names, ",") {
			p, ok := lookupProgram(name)
			if !ok {
				return config{}, fmt.Errorf("--programs: no program %q", name)
			}
			c.programs = append(c.programs, p)
		}
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	results, err := buildAll(ctx, c)
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "socmgmt/%s:%s %s %.1f MiB compressed\n", r.program, c.stamp.tag, r.digest, float64(r.compressed)/(1<<20))
	}
	return nil
}
