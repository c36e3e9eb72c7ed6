package main

import "context"

func runRepl(ctx context.Context, e *env, args []string) error { return usageErrorf("repl: not yet") }
func runLoad(ctx context.Context, e *env, args []string) error {
	_ = ephemeralPorts
	return usageErrorf("load: not yet")
}
