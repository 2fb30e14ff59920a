package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	switch {
	case err != nil:
		return 0, "", false
	case v1 != "":
		file := filepath.Join(groupDir(filepath.Join(root, "memory"), v1), "memory.stat")
		if n, ok := statField(file, "hierarchical_memory_limit"); ok && n < unlimited {
			return n, file, true
		}
		return 0, "", false
	case v2 == "":
		return 0, "", false
	}
	var limit int64
	var from string
	root = filepath.Clean(root)
	for dir := groupDir(root, v2); ; dir = filepath.Dir(dir) {
		file := filepath.Join(dir, "memory.max")
		if b, err := os.ReadFile(file); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && (from == "" || n < limit) {
				limit, from = n, file
			}
		}
		if dir == root {
			break
		}
	}
	return limit, from, from != ""
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

// groupDir is the directory of cgroup path p under root, or root itself
// where that does not exist (see limitUnder).
func groupDir(root, p string) string {
	dir := filepath.Join(root, p)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	return root
}

// statField reads the number after name in a file of "name value" lines
// (memory.stat).
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

// physical is the machine's memory, from sysinfo(2).
func physical() (int64, bool) {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0, false
	}
	return int64(info.Totalram) * int64(info.Unit), info.Totalram > 0
}
