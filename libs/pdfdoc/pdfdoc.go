// Package pdfdoc renders Haven's exported documents (a patient's chart,
// later invoices) as PDF with go-pdf/fpdf: a title, sections of labelled
// lines and free text, and a watermark on every page saying who exported
// the document and when, so that a printed or forwarded copy still names
// its source. Text is set in the Go fonts (embedded, UTF-8), so names in
// any Latin, Greek or Cyrillic script come out right.
package pdfdoc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// Doc is one document.
type Doc struct {
	Title    string
	Subtitle string // e.g. the patient and the selection exported
	// Watermark is stamped across every page, e.g.
	// "Exported by Dr A. Smith (user 0195…) on 2026-11-24 10:02 UTC".
	Watermark string
	// Footer is printed at the foot of every page before "page n of m".
	Footer   string
	Sections []Section
}

// Section is one part of the document: a heading, label/value lines and a
// body of free text (paragraphs separated by blank lines).
type Section struct {
	Heading string
	Fields  []Field
	Body    string
}

// Field is a labelled value.
type Field struct{ Label, Value string }

// ErrEmpty is returned for a document without a title.
var ErrEmpty = errors.New("pdfdoc: document has no title")

const (
	font     = "go"
	margin   = 18.0 // mm
	lineH    = 5.5  // mm
	bodySize = 10.5 // pt
)

// Render writes d as PDF to w.
func Render(w io.Writer, d Doc) error {
	if strings.TrimSpace(d.Title) == "" {
		return ErrEmpty
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.AddUTF8FontFromBytes(font, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(font, "B", gobold.TTF)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin+6)
	pdf.SetTitle(d.Title, true)
	pdf.SetCreator("Haven", true)
	pdf.SetCreationDate(time.Now().UTC())
	pdf.AliasNbPages("{nb}")

	pdf.SetHeaderFuncMode(func() { watermark(pdf, d.Watermark) }, true)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin)
		pdf.SetFont(font, "", 8)
		pdf.SetTextColor(110, 110, 110)
		foot := fmt.Sprintf("page %d of {nb}", pdf.PageNo())
		if d.Footer != "" {
			foot = d.Footer + " · " + foot
		}
		pdf.CellFormat(0, 4, foot, "", 0, "C", false, 0, "")
	})

	pdf.AddPage()
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont(font, "B", 16)
	pdf.MultiCell(0, 8, d.Title, "", "L", false)
	if d.Subtitle != "" {
		pdf.SetFont(font, "", 11)
		pdf.MultiCell(0, 6, d.Subtitle, "", "L", false)
	}
	pdf.Ln(3)
	for _, s := range d.Sections {
		section(pdf, s)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("pdfdoc: render: %w", err)
	}
	return nil
}

// watermark stamps text diagonally across the page, light enough to read
// the page through, and once more legibly at the top.
func watermark(pdf *fpdf.Fpdf, text string) {
	if text == "" {
		return
	}
	w, h := pdf.GetPageSize()
	x, y := pdf.GetXY()
	pdf.SetFont(font, "B", 20)
	pdf.SetTextColor(215, 215, 215)
	pdf.TransformBegin()
	pdf.TransformRotate(55, w/2, h/2)
	tw := pdf.GetStringWidth(text)
	pdf.Text(w/2-tw/2, h/2, text)
	pdf.TransformEnd()
	pdf.SetFont(font, "", 8)
	pdf.SetTextColor(120, 120, 120)
	pdf.SetXY(margin, 8)
	pdf.CellFormat(0, 4, text, "", 0, "R", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.SetXY(x, y)
}

func section(pdf *fpdf.Fpdf, s Section) {
	if s.Heading != "" {
		pdf.SetFont(font, "B", 12.5)
		pdf.MultiCell(0, 7, s.Heading, "B", "L", false)
		pdf.Ln(1.5)
	}
	for _, f := range s.Fields {
		pdf.SetFont(font, "B", bodySize)
		label := f.Label + ": "
		pdf.CellFormat(pdf.GetStringWidth(label)+1, lineH, label, "", 0, "L", false, 0, "")
		pdf.SetFont(font, "", bodySize)
		pdf.MultiCell(0, lineH, f.Value, "", "L", false)
	}
	if s.Body != "" {
		pdf.Ln(1.5)
		pdf.SetFont(font, "", bodySize)
		for i, para := range strings.Split(strings.ReplaceAll(s.Body, "\r\n", "\n"), "\n\n") {
			if i > 0 {
				pdf.Ln(2)
			}
			pdf.MultiCell(0, lineH, para, "", "L", false)
		}
	}
	pdf.Ln(5)
}
