package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// sourceURL is the repository the images name as their source.
const sourceURL = "https://github.com/socmgmt/socmgmt"

// stamp is what every image of one build says about where it came from.
type stamp struct {
	// tag is the images' tag and their org.opencontainers.image.version.
	tag string
	// revision is the git commit they were built from ("unknown" outside
	// git).
	revision string
	// created is the time of that commit (SOURCE_DATE_EPOCH): the images'
	// creation time and every file's modification time, so that the same
	// commit gives the same digests.
	created time.Time
	// goarch is the architecture the binaries were built for.
	goarch string
}

// buildImage assembles p's image around binary: one layer over scratch,
// and a configuration that runs the binary as the nonroot user.
func buildImage(p program, binary []byte, s stamp) (v1.Image, error) {
	data, err := compressedLayer(layerEntries(p, binary), s.created)
	if err != nil {
		return nil, fmt.Errorf("%s layer: %w", p.name, err)
	}
	// Given gzip bytes, ggcr keeps them as the compressed layer (and
	// unzips them for the diff ID) instead of compressing on every read.
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("%s layer: %w", p.name, err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: s.created}, CreatedBy: "make images (tools/images)", Comment: p.pkg},
	})
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", p.name, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", p.name, err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = s.goarch, "linux"
	cf.Created = v1.Time{Time: s.created}
	cf.Config = imageConfig(p, s)
	return mutate.ConfigFile(img, cf)
}

// imageConfig is how p's container runs: its binary as entrypoint, as
// the nonroot user, from /. A service also listens on every interface at
// its container ports and keeps its file in the volume, through the
// environment variables its flags read, which a deployment may override.
func imageConfig(p program, s stamp) v1.Config {
	bin := "/usr/local/bin/" + p.name
	c := v1.Config{
		Entrypoint: []string{bin},
		User:       strconv.Itoa(nonroot) + ":" + strconv.Itoa(nonroot),
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":       p.name,
			"org.opencontainers.image.description": p.description,
			"org.opencontainers.image.source":      sourceURL,
			"org.opencontainers.image.revision":    s.revision,
			"org.opencontainers.image.version":     s.tag,
			"org.opencontainers.image.created":     s.created.UTC().Format(time.RFC3339),
		},
	}
	if !p.service() {
		return c
	}
	c.ExposedPorts = map[string]struct{}{
		strconv.Itoa(p.apiPort) + "/tcp":   {},
		strconv.Itoa(p.adminPort) + "/tcp": {},
	}
	c.Env = []string{
		p.envName(p.listenFlag) + "=:" + strconv.Itoa(p.apiPort),
		p.envName("admin-addr") + "=:" + strconv.Itoa(p.adminPort),
	}
	if p.stateful {
		c.Volumes = map[string]struct{}{dataDir: {}}
		c.Env = append(c.Env, p.envName("data-dir")+"="+dataDir)
	}
	return c
}
