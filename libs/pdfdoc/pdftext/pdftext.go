// Package pdftext reads the text of a PDF, page by page, for tests that
// check what an exported document says (and does not say). It uses
// poppler's pdftotext when it is installed, and otherwise a pure-Go reader
// (github.com/ledongthuc/pdf), which reads Latin-1 text reliably but not
// every character beyond it.
package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/ledongthuc/pdf"
)

// Pages returns each page's text.
func Pages(b []byte) ([]string, error) {
	if path, err := exec.LookPath("pdftotext"); err == nil {
		return poppler(path, b)
	}
	return pureGo(b)
}

// poppler runs pdftotext, which separates pages with form feeds.
func poppler(path string, b []byte) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pdftext: pdftotext: %w", err)
	}
	pages := strings.Split(string(out), "\f")
	if n := len(pages); n > 0 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1]
	}
	return pages, nil
}

func pureGo(b []byte) ([]string, error) {
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("pdftext: open: %w", err)
	}
	out := make([]string, 0, r.NumPage())
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		rows, err := p.GetTextByRow()
		if err != nil {
			return nil, fmt.Errorf("pdftext: page %d: %w", i, err)
		}
		var sb strings.Builder
		for _, row := range rows {
			for _, w := range row.Content {
				sb.WriteString(w.S)
			}
			sb.WriteByte('\n')
		}
		out = append(out, sb.String())
	}
	return out, nil
}
