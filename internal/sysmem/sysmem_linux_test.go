package sysmem

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree writes files (path relative to a new root: content) and returns the
// root.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		from  string // relative to the root; "" for no limit
	}{
		{"v2, the group's own", map[string]string{
			"proc":          "0::/job\n",
			"cg/memory.max": "max\n", "cg/job/memory.max": "157286400\n",
		}, 157286400, "cg/job/memory.max"},
		{"v2, a parent's smaller limit", map[string]string{
			"proc":              "0::/pod/box\n",
			"cg/pod/memory.max": "104857600\n", "cg/pod/box/memory.max": "max\n",
		}, 104857600, "cg/pod/memory.max"},
		{"v2, none anywhere", map[string]string{
			"proc": "0::/a/b\n", "cg/a/memory.max": "max\n", "cg/a/b/memory.max": "max\n",
		}, 0, ""},
		{"v2 in a container: the host's path is not mounted", map[string]string{
			"proc": "0::/system.slice/docker-1f.scope\n", "cg/memory.max": "536870912\n",
		}, 536870912, "cg/memory.max"},
		{"v1, hierarchical", map[string]string{
			"proc":                    "12:pids:/x\n7:cpu,cpuacct:/x\n5:memory:/x\n1:name=systemd:/x\n",
			"cg/memory/x/memory.stat": "cache 0\nrss 0\nhierarchical_memory_limit 157286400\nhierarchical_memsw_limit 1\n",
		}, 157286400, "cg/memory/x/memory.stat"},
		{"v1, unlimited", map[string]string{
			"proc":                  "5:memory:/\n",
			"cg/memory/memory.stat": "hierarchical_memory_limit 9223372036854771712\n",
		}, 0, ""},
		{"v1 in a container", map[string]string{
			"proc":                  "5:memory:/docker/1f\n",
			"cg/memory/memory.stat": "hierarchical_memory_limit 268435456\n",
		}, 268435456, "cg/memory/memory.stat"},
		{"no cgroup file", map[string]string{}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, tc.files)
			got, from, ok := limitUnder(filepath.Join(root, "proc"), filepath.Join(root, "cg"))
			require.Equal(t, tc.from != "", ok)
			require.Equal(t, tc.want, got)
			if tc.from != "" {
				require.Equal(t, filepath.Join(root, tc.from), from)
			}
		})
	}
}

// TestAvailable: the cgroup's limit where there is one, else the machine's
// memory as /proc/meminfo's MemTotal gives it.
func TestAvailable(t *testing.T) {
	got, from, ok := Available()
	require.True(t, ok, "no memory size known on Linux")
	if limit, limitFrom, limited := Limit(); limited {
		require.Equal(t, limit, got)
		require.Equal(t, limitFrom, from)
		return
	}
	meminfo, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	var kb int64
	for line := range strings.Lines(string(meminfo)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
		}
	}
	require.Equal(t, kb<<10, got, "the machine's memory")
	require.Equal(t, "the machine's memory", from)
}
