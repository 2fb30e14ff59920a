package jobhistory

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// entries lists the names in folder, sorted.
func entries(t *testing.T, folder string) []string {
	t.Helper()
	all, err := os.ReadDir(folder)
	require.NoError(t, err)
	var names []string
	for _, e := range all {
		names = append(names, e.Name())
	}
	return names
}

func TestRecordCopiesReportAndLogs(t *testing.T) {
	folder := filepath.Join(t.TempDir(), "history") // made by the first record
	out := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(out, logsName), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, logsName, "map-00001-attempt-1.log"), []byte("boom\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "part-00000"), []byte("a\t1\n"), 0o644))

	report := []byte(`{"job": "word/count", "state": "failed"}`)
	when := time.Date(2026, 12, 6, 19, 1, 2, 123e6, time.FixedZone("CET", 3600))
	require.NoError(t, record(folder, report, out, when, Keep))

	names := entries(t, folder)
	require.Len(t, names, 1, "one entry, no temporary folder left")
	want := "20261206T180102.123Z-word_count-" + strconv.Itoa(os.Getpid())
	require.Equal(t, want, names[0], "the entry is named by the UTC time, the job and the pid")
	entry := filepath.Join(folder, names[0])
	fi, err := os.Stat(entry)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "an entry is readable by all, as an output is")
	}
	got, err := os.ReadFile(filepath.Join(entry, reportName))
	require.NoError(t, err)
	require.Equal(t, report, got)
	log, err := os.ReadFile(filepath.Join(entry, logsName, "map-00001-attempt-1.log"))
	require.NoError(t, err)
	require.Equal(t, "boom\n", string(log))
	_, err = os.Stat(filepath.Join(entry, "part-00000"))
	require.ErrorIs(t, err, os.ErrNotExist, "an entry holds the report and the logs, not the output")

	// The same job again in the same millisecond: a second entry.
	require.NoError(t, record(folder, report, "", when, Keep))
	names = entries(t, folder)
	require.Equal(t, []string{want, want + ".1"}, names)
	_, err = os.Stat(filepath.Join(folder, names[1], logsName))
	require.ErrorIs(t, err, os.ErrNotExist, "no output directory, no logs")
}

func TestRecordRefusesAReportWithoutJob(t *testing.T) {
	folder := t.TempDir()
	for _, report := range []string{`{"state": "failed"}`, `not json`, ``} {
		require.Error(t, record(folder, []byte(report), "", time.Now(), Keep), "report %q", report)
	}
	require.Empty(t, entries(t, folder))
}

func TestRecordKeepsTheNewest(t *testing.T) {
	folder := t.TempDir()
	// A folder shared with other files: those stay, whatever their names.
	for _, other := range []string{"notes", "2026-old-runs", ".tmp-20200101T000000.000Z-x-1-9"} {
		require.NoError(t, os.Mkdir(filepath.Join(folder, other), 0o755))
	}
	start := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := range 7 {
		// Recorded out of order: the names, not the order of recording, say
		// which is oldest.
		at := start.Add(time.Duration((i*5)%7) * time.Minute)
		require.NoError(t, record(folder, []byte(`{"job":"wc"}`), "", at, 3))
	}
	var kept []string
	for _, name := range entries(t, folder) {
		if isEntry(name) {
			kept = append(kept, name[:len(timeLayout)])
		}
	}
	require.Equal(t, []string{"20261206T120400.000Z", "20261206T120500.000Z", "20261206T120600.000Z"}, kept)
	for _, other := range []string{"notes", "2026-old-runs", ".tmp-20200101T000000.000Z-x-1-9"} {
		require.DirExists(t, filepath.Join(folder, other))
	}
}

func TestRecordWithoutFolderDoesNothing(t *testing.T) {
	t.Setenv(Env, t.TempDir()) // a developer's history: not a test's to fill
	t.Setenv(TestEnv, "")
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, Record([]byte(`{"job":"wc"}`), ""))
	require.Empty(t, entries(t, dir))

	folder := filepath.Join(dir, "h")
	t.Setenv(TestEnv, folder)
	require.NoError(t, Record([]byte(`{"job":"wc"}`), ""))
	names := entries(t, folder)
	require.Len(t, names, 1)
	require.True(t, strings.HasSuffix(names[0], "-wc-"+strconv.Itoa(os.Getpid())), names[0])
}
