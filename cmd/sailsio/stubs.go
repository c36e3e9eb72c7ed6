package main

import "context"

func runRepl(ctx context.Context, e *env, args []string) error { return usageErrorf("repl: not yet") }
