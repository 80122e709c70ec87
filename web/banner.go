package web

import _ "embed"

// The website consent banner's script and stylesheet, served by the http package under
// /p/{slug}/banner.js and /p/{slug}/banner.css for tenants to embed on their own sites.
var (
	//go:embed banner/banner.js
	BannerJS []byte
	//go:embed banner/banner.css
	BannerCSS []byte
)
