package web

// TableHead is a list table's hidden caption and column headings, already translated, for
// the "list-head" partial (web/templates/_list_head.html).
type TableHead struct {
	Caption string
	Cols    []string
}

// Head returns the head of a list table: the templates pass the translated caption and
// headings ({{.T "key"}}), so that every key stays literally in the template.
func (v *View) Head(caption string, cols ...string) TableHead {
	return TableHead{Caption: caption, Cols: cols}
}
