package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/quern-dev/quern/mapreduce"
)

// FinishedJob is a job read back from the _job.json of its output
// directory.
type FinishedJob struct {
	Dir    string
	Status mapreduce.JobStatus
}

// summaryFile is the report every job leaves in its output directory.
const summaryFile = "_job.json"

// LoadHistory reads the jobs in dirs: each is a job's output directory
// (it holds _job.json) or a folder of them (its subdirectories that hold
// one). Jobs come out oldest first. A dir that is neither is an error
// naming it; so is the _job.json of a dir named, if it does not parse. In
// a folder of jobs, a _job.json that cannot be read is skipped, and its
// error returned in skipped, as Spark's history server skips a log it
// cannot read: one damaged or foreign file among a hundred jobs should
// not keep the other ninety-nine from being shown.
func LoadHistory(dirs []string) (jobs []FinishedJob, skipped []error, err error) {
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, summaryFile)); err == nil {
			j, err := loadJob(dir)
			if err != nil {
				return nil, nil, err
			}
			jobs = append(jobs, j)
			continue
		}
		found, bad, err := folderJobs(dir, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("webui: job history %s: %w", dir, err)
		}
		jobs = append(jobs, found...)
		skipped = append(skipped, bad...)
		if len(found) == 0 && len(bad) > 0 {
			return nil, nil, fmt.Errorf("webui: %s: no %s of its subdirectories could be read; the first: %w", dir, summaryFile, bad[0])
		}
		if len(found) == 0 {
			return nil, nil, fmt.Errorf("webui: %s holds no %s, and none of its subdirectories does: not a job's output directory or a folder of them", dir, summaryFile)
		}
	}
	slices.SortStableFunc(jobs, func(a, b FinishedJob) int { return a.Status.Started.Compare(b.Status.Started) })
	return jobs, skipped, nil
}

// folderJobs reads the jobs of the subdirectories of dir that hold a
// _job.json, in the order of their names, leaving out hidden ones (a job
// history's entries being written) and those shown already. A report that
// cannot be read is returned in bad.
func folderJobs(dir string, shown map[string]bool) (jobs []FinishedJob, bad []error, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || shown[sub] {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, summaryFile)); err != nil {
			continue
		}
		j, err := loadJob(sub)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs, bad, nil
}

func loadJob(dir string) (FinishedJob, error) {
	path := filepath.Join(dir, summaryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return FinishedJob{}, fmt.Errorf("webui: %w", err)
	}
	var st mapreduce.JobStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return FinishedJob{}, fmt.Errorf("webui: %s: %w", path, err)
	}
	if st.Job == "" {
		return FinishedJob{}, fmt.Errorf("webui: %s: %w", path, errors.New("no job name: not a Quern job report"))
	}
	if st.State == "" {
		// Written before _job.json had a state: only finished jobs left one.
		st.State = mapreduce.JobSucceeded
	}
	return FinishedJob{Dir: dir, Status: st}, nil
}
