//go:build !linux

package sysmem

const procCgroup, cgroupRoot = "", ""

// limitUnder knows no limit: only Linux has cgroups.
func limitUnder(string, string) (int64, string, bool) { return 0, "", false }
