package document

import (
	"fmt"
	"io"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// The page: A4 portrait, millimetres.
const (
	pageMargin = 18.0
	footerRoom = 16.0 // space kept free above the bottom edge for the footer
	lineH      = 5.0  // body line height
	cellPad    = 1.6  // padding inside a table cell
	family     = "Go" // the embedded Go fonts, which cover Polish and Norwegian letters
)

// WritePDF renders d as an A4 PDF: the title and subtitle, numbered sections and
// subsections, wrapped paragraphs, and tables whose cells wrap and whose header row is
// repeated on every page a table runs onto. Each page carries d.Footer and its number. The
// fonts are the Go fonts, embedded, so every letter of English, Norwegian and Polish renders.
func WritePDF(w io.Writer, d *Document) error {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetMargins(pageMargin, pageMargin, pageMargin)
	p.SetCellMargin(0) // table cells pad themselves (cellPad); SplitText would subtract it again
	p.SetAutoPageBreak(true, pageMargin+footerRoom)
	p.AddUTF8FontFromBytes(family, "", goregular.TTF)
	p.AddUTF8FontFromBytes(family, "B", gobold.TTF)
	p.SetTitle(d.Title, true)
	p.SetCreator("Skjold", true)
	p.SetCreationDate(d.GeneratedAt)
	p.SetModificationDate(d.GeneratedAt)
	p.AliasNbPages("{nb}")
	r := &pdfRenderer{p: p}
	p.SetFooterFunc(r.footer(d.Footer))
	p.AddPage()
	r.title(d)
	for i, s := range d.Sections {
		r.section(fmt.Sprint(i+1), &s, 1)
	}
	if err := p.Error(); err != nil {
		return fmt.Errorf("document: render %s: %w", d.Kind, err)
	}
	return p.Output(w)
}

type pdfRenderer struct{ p *fpdf.Fpdf }

// width is the width between the margins.
func (r *pdfRenderer) width() float64 {
	w, _ := r.p.GetPageSize()
	return w - 2*pageMargin
}

// bottom is the lowest y body content may reach.
func (r *pdfRenderer) bottom() float64 {
	_, h := r.p.GetPageSize()
	return h - pageMargin - footerRoom
}

func (r *pdfRenderer) footer(text string) func() {
	return func() {
		p := r.p
		_, h := p.GetPageSize()
		p.SetY(h - pageMargin - 4)
		p.SetDrawColor(180, 180, 180)
		p.Line(pageMargin, p.GetY()-1.5, pageMargin+r.width(), p.GetY()-1.5)
		p.SetFont(family, "", 7.5)
		p.SetTextColor(90, 90, 90)
		num := fmt.Sprintf("%d / {nb}", p.PageNo())
		nw := p.GetStringWidth(fmt.Sprintf("%d / %d", p.PageNo(), p.PageNo())) + 4
		p.SetX(pageMargin)
		lines := p.SplitText(text, r.width()-nw-4)
		if len(lines) > 2 {
			lines = lines[:2]
		}
		for i, l := range lines {
			p.SetXY(pageMargin, h-pageMargin-4+float64(i)*3.5)
			p.CellFormat(r.width()-nw, 3.5, l, "", 0, "L", false, 0, "")
		}
		p.SetXY(pageMargin+r.width()-nw, h-pageMargin-4)
		p.CellFormat(nw, 3.5, num, "", 0, "R", false, 0, "")
		p.SetTextColor(0, 0, 0)
	}
}

func (r *pdfRenderer) title(d *Document) {
	p := r.p
	p.SetFont(family, "B", 18)
	p.MultiCell(r.width(), 8, d.Title, "", "L", false)
	if d.Subtitle != "" {
		p.Ln(1)
		p.SetFont(family, "", 12)
		p.SetTextColor(60, 60, 60)
		p.MultiCell(r.width(), 6, d.Subtitle, "", "L", false)
		p.SetTextColor(0, 0, 0)
	}
	p.Ln(2)
	p.SetDrawColor(40, 70, 110)
	p.SetLineWidth(0.5)
	p.Line(pageMargin, p.GetY(), pageMargin+r.width(), p.GetY())
	p.SetLineWidth(0.2)
	p.Ln(4)
}

// section renders s numbered num ("2", "2.1") at depth 1 or 2; deeper sections are rendered
// as depth 2.
func (r *pdfRenderer) section(num string, s *Section, depth int) {
	p := r.p
	size, gap := 13.0, 4.0
	if depth > 1 {
		size, gap = 11.0, 2.5
	}
	// Keep a heading with at least a few lines of what follows it.
	if p.GetY()+size*0.6+4*lineH > r.bottom() {
		p.AddPage()
	} else {
		p.Ln(gap)
	}
	p.SetFont(family, "B", size)
	p.MultiCell(r.width(), size*0.5, num+"  "+s.Heading, "", "L", false)
	p.Ln(1.5)
	p.SetFont(family, "", 10)
	for _, para := range s.Paragraphs {
		p.MultiCell(r.width(), lineH, para, "", "L", false)
		p.Ln(1.5)
	}
	if s.Table != nil {
		r.table(s.Table)
	}
	for i := range s.Sections {
		r.section(fmt.Sprintf("%s.%d", num, i+1), &s.Sections[i], depth+1)
	}
}

// columnWidths shares the width among the columns in proportion to the longest word and the
// total text of each (so a column of long sentences gets more room than one of short codes),
// with every column at least wide enough for its longest word where the page allows.
func (r *pdfRenderer) columnWidths(t *Table) []float64 {
	p := r.p
	n := len(t.Columns)
	minW, want := make([]float64, n), make([]float64, n)
	measure := func(row []string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		p.SetFont(family, style, 8.5)
		for i := 0; i < n && i < len(row); i++ {
			for _, word := range strings.Fields(row[i]) {
				minW[i] = max(minW[i], p.GetStringWidth(word)+2*cellPad+1.5)
			}
			for _, line := range strings.Split(row[i], "\n") {
				want[i] = max(want[i], p.GetStringWidth(line)+2*cellPad)
			}
		}
	}
	measure(t.Columns, true)
	for _, row := range t.Rows {
		measure(row, false)
	}
	total := r.width()
	ws := make([]float64, n)
	var sumMin, sumWant float64
	for i := range ws {
		minW[i] = min(minW[i], total/2)
		// No column may claim more than half the page by its long lines alone.
		want[i] = max(min(want[i], total/2), minW[i])
		sumMin += minW[i]
		sumWant += want[i]
	}
	switch {
	case sumWant <= total: // everything fits on one line: spread the slack evenly
		for i := range ws {
			ws[i] = want[i] + (total-sumWant)/float64(n)
		}
	case sumMin >= total: // even the words do not fit: share in proportion to them
		for i := range ws {
			ws[i] = total * minW[i] / sumMin
		}
	default: // give each column its longest word, then share the rest by how much it wants more
		extra, rest := total-sumMin, sumWant-sumMin
		for i := range ws {
			ws[i] = minW[i] + extra*(want[i]-minW[i])/rest
		}
	}
	return ws
}

// table draws t with wrapping cells; a row that does not fit below starts a new page, which
// repeats the header row first.
func (r *pdfRenderer) table(t *Table) {
	p := r.p
	if len(t.Columns) == 0 {
		return
	}
	ws := r.columnWidths(t)
	p.SetAutoPageBreak(false, 0) // rows break pages themselves, whole
	defer p.SetAutoPageBreak(true, pageMargin+footerRoom)
	p.Ln(1)
	header := func() { r.row(t.Columns, ws, true) }
	if p.GetY()+2*r.rowHeight(t.Columns, ws, true) > r.bottom() {
		p.AddPage()
	}
	header()
	for _, row := range t.Rows {
		if p.GetY()+r.rowHeight(row, ws, false) > r.bottom() {
			p.AddPage()
			header()
		}
		r.row(row, ws, false)
	}
	p.Ln(3)
}

const cellLineH = 4.0

func (r *pdfRenderer) cellLines(row []string, ws []float64, head bool) [][]string {
	p := r.p
	if head {
		p.SetFont(family, "B", 8.5)
	} else {
		p.SetFont(family, "", 8.5)
	}
	out := make([][]string, len(ws))
	for i := range ws {
		text := ""
		if i < len(row) {
			text = row[i]
		}
		var lines []string
		for _, para := range strings.Split(text, "\n") {
			if para == "" {
				lines = append(lines, "")
				continue
			}
			lines = append(lines, p.SplitText(para, ws[i]-2*cellPad)...)
		}
		out[i] = lines
	}
	return out
}

func (r *pdfRenderer) rowHeight(row []string, ws []float64, head bool) float64 {
	n := 1
	for _, l := range r.cellLines(row, ws, head) {
		n = max(n, len(l))
	}
	return float64(n)*cellLineH + 2*cellPad
}

func (r *pdfRenderer) row(row []string, ws []float64, head bool) {
	p := r.p
	lines := r.cellLines(row, ws, head)
	h := r.rowHeight(row, ws, head)
	x, y := pageMargin, p.GetY()
	p.SetDrawColor(170, 170, 170)
	if head {
		p.SetFillColor(228, 234, 242)
	}
	for i, w := range ws {
		style := "D"
		if head {
			style = "FD"
		}
		p.Rect(x, y, w, h, style)
		for j, l := range lines[i] {
			p.SetXY(x+cellPad, y+cellPad+float64(j)*cellLineH)
			p.CellFormat(w-2*cellPad, cellLineH, l, "", 0, "L", false, 0, "")
		}
		x += w
	}
	p.SetXY(pageMargin, y+h)
	p.SetFont(family, "", 10)
}
