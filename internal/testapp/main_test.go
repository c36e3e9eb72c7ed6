package testapp

import (
	"testing"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// TestMain fails the run if a test leaves a goroutine of the module behind.
func TestMain(m *testing.M) { testkit.Main(m) }
