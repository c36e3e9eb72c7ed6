//go:build race

package engine

// raceBuild: the race detector doubles the stack guard, so that a goroutine's smallest stack holds
// less than a parked reader needs.
const raceBuild = true
