package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is the whole configuration of the harness, from flags only: a
// benchmark should not change with the environment it happens to run in.
type config struct {
	// Bin is the directory holding the built programs (registry, gateway).
	Bin string
	// Retirees is how many retirees the registry scenario loads.
	Retirees int
	// Duration is how long each measurement runs, after Warmup.
	Duration time.Duration
	// Warmup is how long each measurement runs before it starts counting.
	Warmup time.Duration
	// Concurrency is the number of closed-loop workers of a measurement.
	Concurrency int
	// Conns is how many gRPC client connections the workers share.
	Conns int
	// LoadConcurrency is how many CreateRetiree calls are in flight while
	// loading.
	LoadConcurrency int
	// Timeout bounds the run; stopping the programs afterwards may add up
	// to stopTimeout for each.
	Timeout time.Duration
	// Watchers is how many idle WatchRetirees streams the watchers
	// scenario opens.
	Watchers int
	// Scenarios names the scenarios to run, comma-separated, or "all".
	Scenarios string
	// Reps is how many times the headline figures are measured, each
	// with its reference, for their median and range.
	Reps int
	// Keep leaves the temporary directory (data and logs) in place.
	Keep bool
	// ProfileDir, when set, receives a runtime trace of the registry
	// during each paced measurement (see profile.go).
	ProfileDir string
	// CitySizes are the sizes, in retirees, at which the city scenario
	// measures its city, smallest first; it grows the city from one to
	// the next.
	CitySizes []int
	// TLS runs every gRPC connection, the reference server's too, with
	// mutual TLS, as make run does; false runs them plaintext.
	TLS bool
}

// Bounds on the settings: beyond them a run would take longer than a
// benchmark should, or stop measuring what it claims to.
const (
	maxRetirees    = 2_000_000
	maxConcurrency = 4096
	maxConns       = 64
	maxWatchers    = 10_000
	maxReps        = 20
	// minCitySize gives each of the city's communities a few retirees;
	// maxCitySize is the largest city the issue names, within what the
	// ID-number generator can tell apart (benchRetiree).
	minCitySize = 6_000
	maxCitySize = 3_000_000
)

// defaultCitySizes are the sizes issue 18 asks the city to be measured at.
const defaultCitySizes = "200000,500000,1000000,2000000"

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Bin, "bin", "./bin", "`directory` of the built programs (make build)")
	fs.IntVar(&c.Retirees, "retirees", 200_000, "retirees to load into the registry")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each measurement")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "uncounted load before each measurement")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "closed-loop workers of each measurement")
	fs.IntVar(&c.Conns, "conns", 4, "gRPC client connections the workers share")
	fs.IntVar(&c.LoadConcurrency, "load-concurrency", 128, "CreateRetiree calls in flight while loading")
	fs.IntVar(&c.Reps, "reps", 3, "repetitions of the registry's figures (bare, direct, paced, gateway), each with its reference; the table shows median (min–max)")
	fs.IntVar(&c.Watchers, "watchers", 1000, "idle WatchRetirees streams the watchers scenario opens")
	fs.DurationVar(&c.Timeout, "timeout", 45*time.Minute, "bound on the whole run")
	fs.StringVar(&c.Scenarios, "scenarios", "all", "comma-separated scenarios to run: "+strings.Join(scenarioNames(), ", ")+", or all (every one but city, which runs only when named)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary directory with the data and the programs' logs")
	fs.StringVar(&c.ProfileDir, "profile-dir", "", "`directory` to write a runtime trace of the registry into during each paced measurement, with the run-queue waits of the registry and the load generator logged (empty: none)")
	citySizes := fs.String("city-sizes", defaultCitySizes, "comma-separated sizes, in retirees, at which the city scenario measures its city, smallest first")
	fs.BoolVar(&c.TLS, "tls", true, "run every gRPC connection with mutual TLS, as make run does, the bare reference server's too (--tls=false: plaintext)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bench [flags]\n\nStarts the built programs on loopback ports, loads them and prints the\nfigures of DESIGN.md's Performance section as a markdown table.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	sizes, sizesErr := parseCitySizes(*citySizes)
	c.CitySizes = sizes
	return c, errors.Join(sizesErr, c.validate())
}

// validate checks every flag and reports all that are wrong at once.
func (c config) validate() error {
	var errs []error
	if fi, err := os.Stat(filepath.Join(c.Bin, "registry")); err != nil || fi.IsDir() {
		errs = append(errs, fmt.Errorf("--bin %s: no registry program there (run make build)", c.Bin))
	}
	for _, f := range []struct {
		flag          string
		value, lo, hi int
	}{
		{"--retirees", c.Retirees, 1, maxRetirees},
		{"--concurrency", c.Concurrency, 1, maxConcurrency},
		{"--conns", c.Conns, 1, maxConns},
		{"--load-concurrency", c.LoadConcurrency, 1, maxConcurrency},
		{"--watchers", c.Watchers, 1, maxWatchers},
		{"--reps", c.Reps, 1, maxReps},
	} {
		if f.value < f.lo || f.value > f.hi {
			errs = append(errs, fmt.Errorf("%s must be between %d and %d", f.flag, f.lo, f.hi))
		}
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if c.Warmup < 0 {
		errs = append(errs, errors.New("--warmup must not be negative"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	if len(c.CitySizes) == 0 && slices.Contains(strings.Split(c.Scenarios, ","), "city") {
		errs = append(errs, errors.New("--city-sizes: the city scenario needs at least one size"))
	}
	for _, name := range strings.Split(c.Scenarios, ",") {
		if name = strings.TrimSpace(name); name != "all" && findScenario(name) == nil {
			errs = append(errs, fmt.Errorf("--scenarios: unknown scenario %q", name))
		}
	}
	return errors.Join(errs...)
}

// maxCitySizes bounds how many sizes one run measures.
const maxCitySizes = 8

// parseCitySizes reads --city-sizes: comma-separated whole numbers of
// retirees, each between minCitySize and maxCitySize, strictly growing
// (the city grows from one to the next), at most maxCitySizes of them.
func parseCitySizes(list string) ([]int, error) {
	fields := strings.Split(list, ",")
	if len(fields) > maxCitySizes {
		return nil, fmt.Errorf("--city-sizes: %d sizes, at most %d", len(fields), maxCitySizes)
	}
	sizes := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		switch {
		case err != nil:
			return nil, fmt.Errorf("--city-sizes: %q is not a whole number", strings.TrimSpace(f))
		case n < minCitySize || n > maxCitySize:
			return nil, fmt.Errorf("--city-sizes: %d must be between %d and %d", n, minCitySize, maxCitySize)
		case len(sizes) > 0 && n <= sizes[len(sizes)-1]:
			return nil, fmt.Errorf("--city-sizes: %d after %d: sizes must grow", n, sizes[len(sizes)-1])
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
