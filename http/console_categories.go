package http

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/web"
)

// The console's categories page: the tenant's record categories with their legal basis,
// purposes and retention, a form that creates a category or changes an existing one's
// description, legal basis, purposes and retention (its fields stay as they are: a field's
// purposes and allowances are kept), and the retention dry run, which lists what retention
// would erase within so many days, as GET /api/v1/retention/plan does.

func init() {
	read, admin := tenant(skjold.ScopeRead), tenant(skjold.ScopeAdmin)
	addConsoleSection(func(s *Server) []route {
		return []route{
			{"GET /console/categories", read, s.handleConsoleCategories()},
			{"POST /console/categories", admin, s.handleConsoleCategoryPut()},
			{"POST /console/categories/dry-run", read, s.handleConsoleRetentionPlan()},
		}
	}, navItem{80, "/console/categories", "nav.categories", read})
}

// cfgMaxPlanRows is how many lines of a dry run the page shows; the count says how many more.
const cfgMaxPlanRows = 500

type cfgCategoriesData struct {
	Categories []*skjold.Category
	LegalBases []string
	FieldTypes []string
	Edit       *skjold.Category // the category whose values fill the form; nil: a new one
	Days       int              // the dry run's horizon; 0: not run
	Plan       []*skjold.RetentionDue
	PlanTotal  int
}

func (s *Server) cfgLoadCategories(r *http.Request, edit string) func(v *web.View) error {
	return func(v *web.View) error {
		cats, err := s.svc.Categories.FindCategories(r.Context())
		if err != nil {
			return err
		}
		d := &cfgCategoriesData{Categories: cats, LegalBases: cfgLegalBases, FieldTypes: []string{skjold.TypeString, skjold.TypeDate,
			skjold.TypeDateTime, skjold.TypeNumber, skjold.TypeInteger, skjold.TypeBoolean, skjold.TypeEmail, skjold.TypePhone}}
		for _, c := range cats {
			if c.Name == edit {
				d.Edit = c
			}
		}
		v.Data = d
		return nil
	}
}

func (s *Server) handleConsoleCategories() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("categories.title")
		s.cfgPage(w, r, http.StatusOK, "categories", v, s.cfgLoadCategories(r, r.URL.Query().Get("edit")))
	})
}

// handleConsoleRetentionPlan shows the categories with the retention dry run for the
// form's days (1 to 366): what retention would erase by then, by due date. It changes
// nothing.
func (s *Server) handleConsoleRetentionPlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := consoleOf(r).newView("categories.title")
		load := s.cfgLoadCategories(r, "")
		raw := r.PostForm.Get("days")
		v.Form["days"] = raw
		days, err := strconv.Atoi(strings.TrimSpace(raw))
		var plan []*skjold.RetentionDue
		if err != nil {
			err = skjold.FieldError("days", "range", "days must be a whole number from 1 to 366")
		} else {
			plan, err = s.svc.Retention.PlanRetention(r.Context(), days)
		}
		if err != nil {
			if skjold.ErrorCode(err) == skjold.EINTERNAL {
				s.consoleFail(w, r, consoleOf(r).id, err)
				return
			}
			configError(v, err, "days")
			s.cfgPage(w, r, statusOf(err), "categories", v, load)
			return
		}
		s.cfgPage(w, r, http.StatusOK, "categories", v, func(v *web.View) error {
			if err := load(v); err != nil {
				return err
			}
			d := v.Data.(*cfgCategoriesData)
			d.Days, d.PlanTotal = days, len(plan)
			d.Plan = plan[:min(len(plan), cfgMaxPlanRows)]
			return nil
		})
	})
}

var cfgCategoryFields = []string{"name", "description", "legal_basis", "purposes", "retention_period", "retention_from", "fields"}

// handleConsoleCategoryPut creates a category or changes one, as PUT
// /api/v1/categories/{name} does. A new category's fields are given one a line as
// "name type" with "required" after the type when the field is required.
func (s *Server) handleConsoleCategoryPut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		name := strings.TrimSpace(f.Get("name"))
		cat := &skjold.Category{Name: name, Description: strings.TrimSpace(f.Get("description")),
			LegalBasis: f.Get("legal_basis"), Purposes: cfgList(r, "purposes"),
			Retention: skjold.Retention{Period: strings.TrimSpace(f.Get("retention_period")), From: strings.TrimSpace(f.Get("retention_from"))}}
		cur, err := s.svc.Categories.FindCategory(r.Context(), name)
		switch {
		case err == nil:
			cat.Fields = cur.Fields // kept whole, with each field's purposes and allowances
		case skjold.ErrorCode(err) == skjold.ENOTFOUND || skjold.ErrorCode(err) == skjold.EINVALID:
			cat.Fields, err = cfgFieldLines(f.Get("fields"))
		}
		if err == nil {
			_, err = s.svc.Categories.PutCategory(r.Context(), cat)
		}
		if err != nil {
			if field, _ := fieldOf(err); field == "retention" {
				from := "retention_period"
				if _, rule := fieldOf(err); rule == "from" {
					from = "retention_from"
				}
				err = cfgRemapField(err, from)
			}
			s.cfgRefused(w, r, "categories", "categories.title", err, cfgCategoryFields, s.cfgLoadCategories(r, ""))
			return
		}
		http.Redirect(w, r, "/console/categories?m=category_saved", http.StatusSeeOther)
	})
}

// cfgFieldLines reads a new category's fields: one a line, "name type [required]".
func cfgFieldLines(text string) ([]skjold.Field, error) {
	var fields []skjold.Field
	for line := range strings.Lines(text) {
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		if len(words) < 2 || len(words) > 3 || (len(words) == 3 && words[2] != "required") {
			return nil, skjold.FieldError("fields", "line", "each line holds a field's name, its type and optionally \"required\"")
		}
		fields = append(fields, skjold.Field{Name: words[0], Type: words[1], Required: len(words) == 3})
	}
	return fields, nil
}
