package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// result is one image written.
type result struct {
	program string
	// digest is the image manifest's digest, what a registry names it by.
	digest v1.Hash
	// compressed is what a pull transfers: the manifest, the config and
	// the compressed layer.
	compressed int64
}

// buildAll builds the binaries of c.programs and writes their images
// into c.out.
func buildAll(ctx context.Context, c config) (_ []result, err error) {
	tmp, err := os.MkdirTemp("", "socmgmt-images-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rmErr := os.RemoveAll(tmp); err == nil {
			err = rmErr
		}
	}()
	binaries, err := goBuild(ctx, c.root, tmp, c.stamp.goarch, c.programs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	results := make([]result, 0, len(c.programs))
	for _, p := range c.programs {
		img, err := buildImage(p, binaries[p.name], c.stamp)
		if err != nil {
			return nil, err
		}
		r, err := writeImage(c.out, p, img, c.stamp.tag)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// writeImage writes img as out/<program>/, an OCI layout whose one image
// is annotated with its tag (skopeo's oci:out/registry:TAG), and as
// out/<program>.tar for docker load, named socmgmt/<program>:tag. Both
// replace what a previous run left.
func writeImage(out string, p program, img v1.Image, tag string) (result, error) {
	ref, err := name.NewTag("socmgmt/" + p.name + ":" + tag)
	if err != nil {
		return result{}, err
	}
	dir := filepath.Join(out, p.name)
	if err := os.RemoveAll(dir); err != nil {
		return result{}, err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return result{}, err
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return result{}, err
	}
	tarPath := filepath.Join(out, p.name+".tar")
	if err := tarball.WriteToFile(tarPath+".tmp", ref, img); err != nil {
		return result{}, err
	}
	if err := os.Rename(tarPath+".tmp", tarPath); err != nil {
		return result{}, err
	}
	return describe(p, img)
}

// describe returns img's digest and the bytes a pull of it transfers.
func describe(p program, img v1.Image) (result, error) {
	r := result{program: p.name}
	var err error
	if r.digest, err = img.Digest(); err != nil {
		return result{}, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return result{}, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return result{}, err
	}
	r.compressed = int64(len(manifest) + len(config))
	layers, err := img.Layers()
	if err != nil {
		return result{}, err
	}
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			return result{}, err
		}
		r.compressed += size
	}
	return r, nil
}
