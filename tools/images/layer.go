package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"
)

// nonroot is the user and group the programs run as (distroless's
// "nonroot"): no name on the host, no rights in the image but its data
// directory.
const nonroot = 65532

// The two small files that name the user, so that the image's user has a
// name and a home for whatever asks.
const (
	passwdFile = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"
	groupFile = "root:x:0:\nnonroot:x:65532:\n"
)

// entry is one file or directory of the layer.
type entry struct {
	name string
	// mode holds the permission bits (and the sticky bit of /tmp).
	mode int64
	// uid owns it (gid alike); 0 for root.
	uid int
	// body is a file's content; nil makes a directory.
	body []byte
}

// layerEntries lists, in order, everything in p's image: the two user
// files, an empty /tmp, the binary, and a stateful program's data
// directory, owned by the user so that a new volume mounted there is
// writable by it (Docker copies the directory's owner into the volume).
func layerEntries(p program, binary []byte) []entry {
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, body: []byte(groupFile)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwdFile)},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: "usr/local/bin/" + p.name, mode: 0o755, body: binary},
	}
	if p.stateful {
		entries = append(entries,
			entry{name: "var/", mode: 0o755},
			entry{name: "var/lib/", mode: 0o755},
			entry{name: dataDir[1:] + "/", mode: 0o700, uid: nonroot})
	}
	return entries
}

// writeLayer writes entries as a tar stream whose every header is fixed
// by its entry and modTime alone: no user or group names, no access or
// change times, so the same entries give the same bytes on any machine.
func writeLayer(w io.Writer, entries []entry, modTime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.uid,
			ModTime: modTime,
			Format:  tar.FormatPAX,
		}
		if e.body == nil {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return fmt.Errorf("layer entry %s: %w", e.name, err)
		}
	}
	return tw.Close()
}

// compressedLayer is writeLayer into memory, compressed once with gzip
// at its best: an image is pulled many more times than it is built. The
// gzip header holds no time or name, so the bytes depend on the entries
// alone.
func compressedLayer(entries []entry, modTime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := writeLayer(zw, entries, modTime); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
