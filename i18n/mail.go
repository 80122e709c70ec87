package i18n

import (
	"sync"
	"time"
)

// mailBundle is the catalogues for e-mails, loaded once: an e-mail states its times in UTC,
// since its reader's zone is not known.
var mailBundle = sync.OnceValue(func() *Bundle {
	b, err := New(time.UTC)
	if err != nil {
		panic(err) // the catalogues are embedded and tested; they cannot fail to load
	}
	return b
})

// Mail returns the catalogue for an e-mail to a reader of lang: their language when it is
// one of Languages, else the default.
func Mail(lang string) *Catalogue { return mailBundle().Get(lang) }
