package pdfdoc_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/pdfdoc"
	"github.com/havenhealth/haven/libs/pdfdoc/pdftext"
)

func TestRender_TextIsExtractableAndEveryPageIsWatermarked(t *testing.T) {
	long := strings.Repeat("Range of motion improved after the second session; continue the home programme. ", 120)
	d := pdfdoc.Doc{
		Title:     "Chart of Aroha Ngata, Zoë Müller's patient",
		Subtitle:  "2 of 3 entries, selected by the practitioner",
		Watermark: "Exported by Dr Zoë Müller on 2026-11-24 10:02 UTC",
		Footer:    "Harbour Physio · confidential",
		Sections: []pdfdoc.Section{
			{Heading: "Entry 2026-11-02", Fields: []pdfdoc.Field{{Label: "Signed by", Value: "Dr Zoë Müller"}}, Body: "Shoulder assessment.\n\nPlan: exercises."},
			{Heading: "Entry 2026-11-09", Body: long},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, pdfdoc.Render(&buf, d))
	require.True(t, bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")))

	pages, err := pdftext.Pages(buf.Bytes())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(pages), 2, "the long entry spills onto another page")
	all := strings.Join(pages, "\n")
	for _, want := range []string{"Chart of Aroha Ngata, Zoë Müller's patient", "Shoulder assessment.", "Plan: exercises.", "Entry 2026-11-09", "Signed by"} {
		require.Contains(t, all, want)
	}
	for i, p := range pages {
		require.Contains(t, p, "Exported by Dr Zoë Müller on 2026-11-24 10:02 UTC", "page %d carries the watermark", i+1)
		require.Contains(t, p, "Harbour Physio", "page %d footer", i+1)
	}
}

func TestRender_RefusesAnUntitledDocument(t *testing.T) {
	require.ErrorIs(t, pdfdoc.Render(&bytes.Buffer{}, pdfdoc.Doc{}), pdfdoc.ErrEmpty)
}
