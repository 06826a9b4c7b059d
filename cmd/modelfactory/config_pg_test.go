package main

import (
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/pgcluster"
)

// MF_PG_SHARED_BUFFERS takes PostgreSQL sizes and refuses anything else
// with a message naming the setting.
func TestPGSharedBuffersSetting(t *testing.T) {
	t.Setenv("MF_PG_SHARED_BUFFERS", "")
	c, err := loadConfig("serve", nil)
	if err != nil || c.PGSharedBuffers != "" {
		t.Fatalf("default: %q, %v", c.PGSharedBuffers, err)
	}
	c, err = loadConfig("serve", []string{"-pg-shared-buffers", "2GB"})
	if err != nil || c.PGSharedBuffers != "2GB" {
		t.Fatalf("2GB: %+v, %v", c, err)
	}
	for _, bad := range []string{"2 GB", "lots", "0MB", "2gb", "-1GB", "64kB", "+2GB"} {
		if _, err := loadConfig("serve", []string{"-pg-shared-buffers", bad}); err == nil || !strings.Contains(err.Error(), "MF_PG_SHARED_BUFFERS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if d := pgcluster.DefaultSharedBuffers(true); d != "128MB" {
		t.Errorf("ephemeral default %s", d)
	}
	if d := pgcluster.DefaultSharedBuffers(false); !pgcluster.ValidMemory(d) {
		t.Errorf("default %q is not a size", d)
	}
}
