package views

import "github.com/modelfactory/modelfactory/static"

// staticURL is static.URL, named for use inside templates.
func staticURL(name string) string { return static.URL(name) }
