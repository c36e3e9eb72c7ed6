package main

import "runtime/debug"

// version reports the module version the binary was built from ("(devel)" in a workspace build).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/sailsio-go/sailsio" {
			return bi.Main.Version + " (sdk " + d.Version + ")"
		}
	}
	return bi.Main.Version
}
