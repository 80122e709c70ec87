package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/skjold-project/skjold"
)

// JSON writes one JSON document, row by row:
//
//	{"categories":[{"name":…,"fields":[…],"rows":[{"subject_id":…,"record_id":…,
//	"created_at":…,"data":{…}},…]},…]}
//
// Dates are "YYYY-MM-DD", times RFC 3339, numbers and booleans JSON numbers and booleans.
// Only the current row is ever in memory. Call Close to end the document.
type JSON struct {
	w     *bufio.Writer
	enc   *json.Encoder
	cat   *skjold.Category
	cats  int // categories begun
	rows  int // rows of the current category
	err   error
	ended bool
}

var _ skjold.ExportSink = (*JSON)(nil)

// jsonRow is one row as written.
type jsonRow struct {
	SubjectID string         `json:"subject_id"`
	RecordID  string         `json:"record_id,omitempty"`
	CreatedAt string         `json:"created_at"`
	Data      map[string]any `json:"data"`
}

// NewJSON returns a JSON sink writing to w.
func NewJSON(w io.Writer) *JSON {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSON{w: bw, enc: enc}
}

// raw is JSON text written as it is; write encodes every other part.
type raw string

func (s *JSON) write(parts ...any) error {
	for _, p := range parts {
		if s.err != nil {
			return s.err
		}
		if str, ok := p.(raw); ok {
			_, s.err = s.w.WriteString(string(str))
		} else {
			s.err = s.enc.Encode(p)
		}
	}
	return s.err
}

// Begin opens the category's object.
func (s *JSON) Begin(c *skjold.Category) error {
	if s.cat != nil || s.ended {
		return errors.New("export: Begin before End")
	}
	open := `{"categories":[`
	if s.cats > 0 {
		open = ","
	}
	s.cat, s.rows = c, 0
	s.cats++
	fields := c.Fields
	if fields == nil {
		fields = []skjold.Field{}
	}
	return s.write(raw(open+`{"name":`), c.Name, raw(`,"fields":`), fields, raw(`,"rows":[`))
}

// Row writes one row object.
func (s *JSON) Row(r *skjold.ExportRow) error {
	if s.cat == nil {
		return errors.New("export: Row outside Begin and End")
	}
	row := jsonRow{SubjectID: r.SubjectID, RecordID: r.RecordID, CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339Nano),
		Data: make(map[string]any, len(r.Values))}
	for name, v := range r.Values {
		row.Data[name] = jsonValue(s.cat.Field(name), v)
	}
	sep := raw("")
	if s.rows > 0 {
		sep = ","
	}
	s.rows++
	return s.write(sep, row)
}

// End closes the category's object.
func (s *JSON) End() error {
	if s.cat == nil {
		return errors.New("export: End without Begin")
	}
	s.cat = nil
	return s.write(raw("]}"))
}

// Close ends the document and flushes it; it does not close the underlying writer.
func (s *JSON) Close() error {
	if s.cat != nil {
		return errors.New("export: Close before End")
	}
	if !s.ended {
		s.ended = true
		if s.cats == 0 {
			s.write(raw(`{"categories":[`))
		}
		s.write(raw("]}\n"))
	}
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}
