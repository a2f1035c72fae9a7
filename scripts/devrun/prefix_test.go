package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLinePrefixer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxLine int
		writes  []string
		flush   bool
		want    string
	}{
		{name: "one line", writes: []string{"hello\n"}, want: "[p] hello\n"},
		{name: "two lines in one write", writes: []string{"a\nb\n"}, want: "[p] a\n[p] b\n"},
		{name: "line split over writes", writes: []string{"hel", "lo", "\nwor", "ld\n"}, want: "[p] hello\n[p] world\n"},
		{name: "partial line waits", writes: []string{"done\nhalf"}, want: "[p] done\n"},
		{name: "flush ends the partial line", writes: []string{"done\nhalf"}, flush: true, want: "[p] done\n[p] half\n"},
		{name: "flush with nothing pending", writes: []string{"done\n"}, flush: true, want: "[p] done\n"},
		{name: "empty lines kept", writes: []string{"\n\nx\n"}, want: "[p] \n[p] \n[p] x\n"},
		{name: "empty write", writes: []string{""}, flush: true, want: ""},
		{name: "carriage return is text", writes: []string{"a\r\n"}, want: "[p] a\r\n"},
		{name: "long line split", maxLine: 4, writes: []string{"abcdefghij\n"}, want: "[p] abcd\n[p] efgh\n[p] ij\n"},
		{name: "long line split across writes", maxLine: 4, writes: []string{"abc", "defgh", "ij\n"}, want: "[p] abcd\n[p] efgh\n[p] ij\n"},
		{name: "exact multiple adds no empty line", maxLine: 4, writes: []string{"abcd", "efgh", "\n"}, want: "[p] abcd\n[p] efgh\n"},
		{name: "long partial bounded before newline", maxLine: 4, writes: []string{"abcdefghij"}, want: "[p] abcd\n[p] efgh\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newLinePrefixer(&buf, "[p] ", tc.maxLine)
			for _, w := range tc.writes {
				n, err := p.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if tc.flush {
				p.Flush()
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
		})
	}
}

// countingWriter records how many Write calls it saw.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(b)
}

func TestLinePrefixerWritesWholeLines(t *testing.T) {
	// One Write per line is what keeps lines of different children from
	// mixing on the shared terminal.
	var w countingWriter
	p := newLinePrefixer(&w, "[registry] ", 0)
	_, _ = p.Write([]byte("first line\nsecond "))
	_, _ = p.Write([]byte("line\nthird line\n"))
	if w.writes != 3 {
		t.Errorf("%d writes for 3 lines, want 3", w.writes)
	}
}

// prefixReference is the specification of linePrefixer: every line of
// data, split into pieces of at most maxLine bytes, prefixed and ended
// with a newline; a final line without a newline ends with one too.
func prefixReference(prefix, data string, maxLine int) string {
	var b strings.Builder
	lines := strings.Split(data, "\n")
	last := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	if last != "" {
		lines = append(lines, last)
	}
	for _, l := range lines {
		for {
			n := min(len(l), maxLine)
			b.WriteString(prefix + l[:n] + "\n")
			l = l[n:]
			if l == "" {
				break
			}
		}
	}
	return b.String()
}

func FuzzLinePrefixer(f *testing.F) {
	f.Add("hello\nworld\n", uint8(3), uint8(16))
	f.Add("no newline at all", uint8(0), uint8(5))
	f.Add("\n\n\n", uint8(1), uint8(1))
	f.Add("abcdefgh\nij", uint8(4), uint8(4))
	f.Add("日志\n中文行\n", uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, data string, chunk, maxLine uint8) {
		max := int(maxLine%32) + 1
		var buf bytes.Buffer
		p := newLinePrefixer(&buf, "[x] ", max)
		// Feed the data in chunks of a fuzzed size: the output must not
		// depend on how a pipe happened to split it.
		step := int(chunk%17) + 1
		for i := 0; i < len(data); i += step {
			_, _ = p.Write([]byte(data[i:min(i+step, len(data))]))
		}
		p.Flush()
		if got, want := buf.String(), prefixReference("[x] ", data, max); got != want {
			t.Errorf("chunk %d, max %d: output\n%q\nwant\n%q", step, max, got, want)
		}
	})
}
