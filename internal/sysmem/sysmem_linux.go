package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	procCgroup = "/proc/self/cgroup"
	cgroupRoot = "/sys/fs/cgroup"
)

// unlimited is where a cgroup v1 limit means none: the kernel reports
// "no limit" as the largest page-aligned int64, 9223372036854771712.
const unlimited = 1 << 62

// limitUnder is Limit for a process whose /proc/self/cgroup is the file
// cgroupFile and whose cgroup file systems are mounted under root.
//
// cgroup v2 (one line "0::/PATH"): the smallest memory.max of PATH and its
// ancestors ("max" is none). cgroup v1 (a line "N:...memory...:/PATH"):
// hierarchical_memory_limit in memory.stat, which already takes the
// ancestors into account. Inside a container the cgroup file system shows
// the container's own group at its root while /proc/self/cgroup may still
// name the host's path, so a path that does not exist is read at the root.
func limitUnder(cgroupFile, root string) (int64, string, bool) {
	v1, v2, err := cgroupPaths(cgroupFile)
	if err != nil {
		return 0, "", false
	}
	if v1 != "" {
		dir := existing(filepath.Join(root, "memory"), v1)
		file := filepath.Join(dir, "memory.stat")
		if n, ok := statField(file, "hierarchical_memory_limit"); ok && n < unlimited {
			return n, file, true
		}
		return 0, "", false
	}
	if v2 == "" {
		return 0, "", false
	}
	var limit int64
	var from string
	for p := existingPath(root, v2); ; p = path.Dir(p) {
		file := filepath.Join(root, p, "memory.max")
		if b, err := os.ReadFile(file); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && (from == "" || n < limit) {
				limit, from = n, file
			}
		}
		if p == "/" || p == "." {
			break
		}
	}
	return limit, from, from != ""
}

// OOMKills returns how many processes the kernel's OOM killer has ended in
// the calling process's cgroup and its descendants since it was made; ok
// is false where that is not known.
func OOMKills() (n int64, ok bool) { return oomKillsUnder(procCgroup, cgroupRoot) }

func oomKillsUnder(cgroupFile, root string) (int64, bool) {
	v1, v2, err := cgroupPaths(cgroupFile)
	switch {
	case err != nil:
		return 0, false
	case v1 != "":
		return statField(filepath.Join(existing(filepath.Join(root, "memory"), v1), "memory.oom_control"), "oom_kill")
	case v2 != "":
		return statField(filepath.Join(root, existingPath(root, v2), "memory.events"), "oom_kill")
	}
	return 0, false
}

// cgroupPaths reads the memory controller's cgroup v1 path, or else the
// cgroup v2 path, from a /proc/PID/cgroup file.
func cgroupPaths(file string) (v1, v2 string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		id, rest, _ := strings.Cut(sc.Text(), ":")
		controllers, p, ok := strings.Cut(rest, ":")
		switch {
		case !ok:
		case id == "0" && controllers == "":
			v2 = p
		case strings.Contains(","+controllers+",", ",memory,"):
			v1 = p
		}
	}
	return v1, v2, sc.Err()
}

// existing is root/p if that directory exists, else root (see limitUnder).
func existing(root, p string) string {
	if st, err := os.Stat(filepath.Join(root, p)); err == nil && st.IsDir() {
		return filepath.Join(root, p)
	}
	return root
}

// existingPath is p if root/p exists, else "/".
func existingPath(root, p string) string {
	if st, err := os.Stat(filepath.Join(root, p)); err == nil && st.IsDir() {
		return path.Clean("/" + p)
	}
	return "/"
}

// statField reads the number after name in a file of "name value" lines
// (memory.stat, memory.events, memory.oom_control).
func statField(file, name string) (int64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == name {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
