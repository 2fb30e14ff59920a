// Package webui serves Quern's status pages over plain HTTP: the live page
// of a running job (quern run --ui) and the pages of finished jobs read
// back from their _job.json (quern ui DIR...), with a list to compare them.
//
// The pages are one embedded HTML file with its script and style (no asset
// from the internet); they poll the JSON API:
//
//	GET /api/jobs                    the jobs served, with headline figures
//	GET /api/job                     the first job's mapreduce.JobStatus
//	GET /api/jobs/N                  job N's mapreduce.JobStatus
//	GET /logs/N/TASK/ATTEMPT         the worker output of one attempt
//
// Every endpoint only reads; any method but GET and HEAD is refused. A log
// is found through the job's status, never through a path in the request.
package webui

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

//go:embed page.html
var page []byte

// StateStarting is the state /api/job reports before the driver has
// handed over the job's status (while it plans the input).
const StateStarting = "starting"

// Server serves the status pages of a set of jobs.
type Server struct {
	ln  net.Listener
	srv *http.Server

	mu   sync.Mutex
	live bool
	jobs []*source

	// follow are the folders of jobs that Follow looks into again; read
	// when the list is asked for, at most every followEvery (followed is
	// the last time), one list at a time (following).
	follow    []string
	following sync.Mutex
	followed  time.Time
}

// followEvery is how often at most the folders a server follows are
// listed again: a page of the list asks for it once per load.
const followEvery = 2 * time.Second

// source is one job the server shows.
type source struct {
	status func() mapreduce.JobStatus // nil until a live job starts
	// dir is the job's output directory, against which the relative log
	// paths of a finished job's report are resolved.
	dir string
}

// Listen opens addr for a server. An address without a host (":8080",
// "8080", ":0") listens on the loopback interface only: the page shows
// paths and logs of the machine, so exposing it is the caller's choice.
func Listen(addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, perr := strconv.Atoi(addr); perr != nil {
			return nil, fmt.Errorf("webui: address %q: want HOST:PORT, :PORT or PORT", addr)
		}
		host, port = "", addr
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("webui: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /job/{n}", s.servePage)
	mux.HandleFunc("GET /api/jobs", s.serveJobs)
	mux.HandleFunc("GET /api/job", s.serveJob)
	mux.HandleFunc("GET /api/jobs/{n}", s.serveJob)
	mux.HandleFunc("GET /logs/{n}/{task}/{attempt}", s.serveLog)
	s.srv = &http.Server{Handler: readOnly(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the address of the server's front page.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Close stops the server and waits for the requests in flight, at most a
// second.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// Live makes the server show one running job, whose status arrives with
// Watch. It returns Watch, to set as mapreduce.Config.OnStart.
func (s *Server) Live() func(status func() mapreduce.JobStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := &source{}
	s.live = true
	s.jobs = append(s.jobs, src)
	return func(status func() mapreduce.JobStatus) {
		s.mu.Lock()
		defer s.mu.Unlock()
		src.status = status
	}
}

// AddFinished adds finished jobs, read from their _job.json, to the
// server's list.
func (s *Server) AddFinished(jobs []FinishedJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		st := j.Status
		s.jobs = append(s.jobs, &source{status: func() mapreduce.JobStatus { return st }, dir: j.Dir})
	}
}

// Follow makes the server show the jobs that appear in the folders dirs
// after it started, as Spark's history server picks up new event logs:
// when the list of jobs is asked for (a page loaded), at most every two
// seconds, each folder is listed again, and the jobs of its subdirectories
// not shown yet (a job history's new entries, a folder's new outputs) are
// added after the others, oldest first, so that every job keeps its
// number. A dir that is itself a job's output directory is not followed;
// a subdirectory whose _job.json cannot be read is not shown, and is
// tried again the next time.
func (s *Server) Follow(dirs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, summaryFile)); err != nil {
			s.follow = append(s.follow, dir)
		}
	}
}

// refresh adds the jobs that appeared in the followed folders since they
// were last listed (Follow).
func (s *Server) refresh() {
	s.following.Lock()
	defer s.following.Unlock()
	if time.Since(s.followed) < followEvery {
		return
	}
	s.mu.Lock()
	follow := s.follow
	shown := make(map[string]bool, len(s.jobs))
	for _, src := range s.jobs {
		shown[src.dir] = true
	}
	s.mu.Unlock()
	if len(follow) == 0 {
		return
	}
	s.followed = time.Now()
	var found []FinishedJob
	for _, dir := range follow {
		// A folder gone, or a report not readable, for now: tried again
		// the next time.
		jobs, _, _ := folderJobs(dir, shown)
		found = append(found, jobs...)
	}
	slices.SortStableFunc(found, func(a, b FinishedJob) int { return a.Status.Started.Compare(b.Status.Started) })
	s.AddFinished(found)
}

// job returns the status of job n and its output directory.
func (s *Server) job(n int) (mapreduce.JobStatus, string, bool) {
	s.mu.Lock()
	if n < 0 || n >= len(s.jobs) {
		s.mu.Unlock()
		return mapreduce.JobStatus{}, "", false
	}
	src := s.jobs[n]
	status := src.status
	s.mu.Unlock()
	if status == nil {
		return mapreduce.JobStatus{State: StateStarting}, src.dir, true
	}
	st := status()
	dir := src.dir
	if dir == "" {
		dir = st.Output
	}
	return st, dir, true
}

// readOnly refuses every method but GET and HEAD (ServeMux lets HEAD
// through GET patterns) and forbids framing and content sniffing.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:")
	_, _ = w.Write(page)
}

// JobSummary is one row of /api/jobs.
type JobSummary struct {
	N   int    `json:"n"`
	Job string `json:"job"`
	// Output is the job's output directory, absolute when the job's
	// report says where it ran (outputPath).
	Output    string             `json:"output"`
	State     string             `json:"state"`
	Started   time.Time          `json:"started"`
	ElapsedMS float64            `json:"elapsed_ms"`
	Tasks     int                `json:"tasks"`
	Failed    int                `json:"failed_attempts"`
	Warnings  int                `json:"warnings"`
	Counters  mapreduce.Counters `json:"counters"`
}

// outputPath is where job st wrote its output: Output joined to the
// working directory it was named from, so that a history of jobs run from
// many folders says which; a URL, an absolute path, or the Output of a
// report that has no working directory (written before Quern recorded
// one) as it is.
func outputPath(st mapreduce.JobStatus) string {
	if st.WorkingDir == "" || st.Output == "" || filepath.IsAbs(st.Output) || objstore.IsURL(st.Output) {
		return st.Output
	}
	return filepath.Join(st.WorkingDir, st.Output)
}

func (s *Server) serveJobs(w http.ResponseWriter, _ *http.Request) {
	s.refresh()
	s.mu.Lock()
	n, live := len(s.jobs), s.live
	s.mu.Unlock()
	list := struct {
		Live bool         `json:"live"`
		Jobs []JobSummary `json:"jobs"`
	}{Live: live, Jobs: []JobSummary{}}
	for i := range n {
		st, _, _ := s.job(i)
		sum := JobSummary{N: i, Job: st.Job, Output: outputPath(st), State: st.State, Started: st.Started,
			ElapsedMS: st.ElapsedMS, Tasks: len(st.Tasks), Warnings: len(st.Warnings), Counters: st.Counters}
		for _, t := range st.Tasks {
			for _, a := range t.Attempts {
				if a.State == mapreduce.AttemptFailed {
					sum.Failed++
				}
			}
		}
		list.Jobs = append(list.Jobs, sum)
	}
	writeJSON(w, list)
}

func (s *Server) serveJob(w http.ResponseWriter, r *http.Request) {
	n := 0
	if v := r.PathValue("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			http.Error(w, "job number: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	st, _, ok := s.job(n)
	if !ok {
		http.Error(w, fmt.Sprintf("no job %d", n), http.StatusNotFound)
		return
	}
	writeJSON(w, st)
}

// serveLog sends one attempt's worker output, found through the job's
// status: an absolute path while the job runs (the driver's own work
// directory), a path inside the output directory once the job is over.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request) {
	n, err1 := strconv.Atoi(r.PathValue("n"))
	attempt, err2 := strconv.Atoi(r.PathValue("attempt"))
	if err := errors.Join(err1, err2); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st, dir, ok := s.job(n)
	if !ok {
		http.Error(w, fmt.Sprintf("no job %d", n), http.StatusNotFound)
		return
	}
	path := ""
	for _, t := range st.Tasks {
		for _, a := range t.Attempts {
			if t.ID == r.PathValue("task") && a.Attempt == attempt {
				path = a.Log
			}
		}
	}
	switch {
	case path == "":
		http.Error(w, "no log for this attempt (its worker wrote nothing, or the log was not kept)", http.StatusNotFound)
		return
	case !filepath.IsAbs(path):
		if !filepath.IsLocal(path) {
			http.Error(w, "log path leaves the output directory", http.StatusForbidden)
			return
		}
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "log gone: "+strings.TrimPrefix(err.Error(), "open "), http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, f)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}
