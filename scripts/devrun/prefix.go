package main

import (
	"bytes"
	"io"
	"sync"
)

// defaultMaxLine bounds a line kept in memory; a child that writes more
// without a newline has it shown as several lines.
const defaultMaxLine = 64 << 10

// linePrefixer is an io.Writer that writes every line written to it to an
// underlying writer, prefixed, one Write per line. Children's output
// reaches the terminal through it, so that lines from different processes
// interleave only as whole lines and each says where it came from.
type linePrefixer struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  []byte
	maxLine int
	// partial is the current line's text so far, without its newline.
	partial []byte
	// out is reused to assemble prefix, line and newline into one Write.
	out []byte
}

// newLinePrefixer returns a writer that writes lines to w, each preceded
// by prefix. Lines longer than maxLine bytes are split; maxLine <= 0 means
// defaultMaxLine.
func newLinePrefixer(w io.Writer, prefix string, maxLine int) *linePrefixer {
	if maxLine <= 0 {
		maxLine = defaultMaxLine
	}
	return &linePrefixer{w: w, prefix: []byte(prefix), maxLine: maxLine}
}

// Write writes the complete lines in b and keeps the rest for the next
// Write or Flush. It always reports success: an error of the terminal must
// not stop the copying, or a child whose pipe is no longer drained would
// block on its next log line.
func (p *linePrefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			b = nil
		} else {
			p.partial = append(p.partial, b[:i]...)
			b = b[i+1:]
		}
		// Emit full-length pieces; what is left stays partial unless the
		// line is complete. Splitting here, not only at newlines, keeps
		// the result independent of how the input was chunked.
		start := 0
		for len(p.partial)-start > p.maxLine {
			p.emit(p.partial[start : start+p.maxLine])
			start += p.maxLine
		}
		if i >= 0 {
			p.emit(p.partial[start:])
			p.partial = p.partial[:0]
		} else if start > 0 {
			p.partial = append(p.partial[:0], p.partial[start:]...)
		}
	}
	return n, nil
}

// Flush writes a final unterminated line, if any, with a newline.
func (p *linePrefixer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		p.emit(p.partial)
		p.partial = p.partial[:0]
	}
}

// emit writes one prefixed line. The caller holds p.mu.
func (p *linePrefixer) emit(line []byte) {
	p.out = append(append(append(p.out[:0], p.prefix...), line...), '\n')
	_, _ = p.w.Write(p.out)
}

// lockedWriter serialises Writes to w, which several linePrefixers share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes b to the underlying writer while holding the lock.
func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
