package input

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestPlan(t *testing.T) {
	a := File{Path: "a", Size: 10}
	b := File{Path: "b", Size: 3}
	empty := File{Path: "e", Size: 0}
	gz := File{Path: "c.gz", Size: 1000, Compression: Gzip}
	zs := File{Path: "d.zst", Size: 7, Compression: Zstd}
	emptyGz := File{Path: "e.gz", Size: 0, Compression: Gzip}
	huge := File{Path: "h", Size: math.MaxInt64}
	for _, tc := range []struct {
		files []File
		size  int64
		want  string
	}{
		{nil, 4, "[]"},
		{[]File{a}, 4, "[0 a:[0,4) 1 a:[4,8) 2 a:[8,10)]"},
		{[]File{a}, 5, "[0 a:[0,5) 1 a:[5,10)]"},
		{[]File{a}, 10, "[0 a:[0,10)]"},
		{[]File{a}, 11, "[0 a:[0,10)]"},
		{[]File{a}, math.MaxInt64, "[0 a:[0,10)]"},
		{[]File{b}, 1, "[0 b:[0,1) 1 b:[1,2) 2 b:[2,3)]"},
		{[]File{empty, a, empty, b}, 6, "[0 a:[0,6) 1 a:[6,10) 2 b:[0,3)]"},
		{[]File{gz, zs, emptyGz}, 2, "[0 c.gz:[0,1000) 1 d.zst:[0,7)]"},
		{[]File{b, gz, b}, 2, "[0 b:[0,2) 1 b:[2,3) 2 c.gz:[0,1000) 3 b:[0,2) 4 b:[2,3)]"},
		// The last byte is within the slop of the second split.
		{[]File{huge}, math.MaxInt64 / 2, fmt.Sprintf("[0 h:[0,%d) 1 h:[%d,%d)]",
			int64(math.MaxInt64/2), int64(math.MaxInt64/2), int64(math.MaxInt64))},
		{[]File{huge}, math.MaxInt64 / 3, fmt.Sprintf("[0 h:[0,%d) 1 h:[%d,%d) 2 h:[%d,%d)]",
			int64(math.MaxInt64/3), int64(math.MaxInt64/3), int64(math.MaxInt64/3)*2, int64(math.MaxInt64/3)*2, int64(math.MaxInt64))},
		// Split slop: a rest of at most a tenth more than the split size
		// is one split, as Hadoop's SPLIT_SLOP = 1.1.
		{[]File{{Path: "s", Size: 110}}, 100, "[0 s:[0,110)]"},
		{[]File{{Path: "s", Size: 111}}, 100, "[0 s:[0,100) 1 s:[100,111)]"},
		{[]File{{Path: "s", Size: 310}}, 100, "[0 s:[0,100) 1 s:[100,200) 2 s:[200,310)]"},
		{[]File{{Path: "s", Size: 311}}, 100, "[0 s:[0,100) 1 s:[100,200) 2 s:[200,300) 3 s:[300,311)]"},
	} {
		splits, err := Plan(tc.files, tc.size)
		if err != nil {
			t.Fatalf("Plan(%v, %d): %v", tc.files, tc.size, err)
		}
		got := "["
		for i, s := range splits {
			if s.Index != i {
				t.Fatalf("Plan(%v, %d): split %d has Index %d", tc.files, tc.size, i, s.Index)
			}
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%d %v", s.Index, s)
		}
		got += "]"
		if got != tc.want {
			t.Errorf("Plan(%v, %d) = %s, want %s", tc.files, tc.size, got, tc.want)
		}
	}
}

// TestCountSplits checks that CountSplits, which the driver uses to refuse
// a plan before making it, counts exactly the splits Plan makes, slop
// included.
func TestCountSplits(t *testing.T) {
	for _, splitSize := range []int64{1, 2, 9, 10, 11, 100, 1000} {
		for size := int64(0); size <= 3500; size++ {
			files := []File{{Path: "f", Size: size}}
			splits, err := Plan(files, splitSize)
			if err != nil {
				t.Fatal(err)
			}
			if n := CountSplits(files, splitSize); n != int64(len(splits)) {
				t.Fatalf("size %d, split size %d: CountSplits = %d, Plan made %d", size, splitSize, n, len(splits))
			}
			for _, s := range splits {
				if s.Len() > splitSize+splitSize/SplitSlop {
					t.Fatalf("size %d, split size %d: split %v longer than the slop allows", size, splitSize, s)
				}
				if s.End < size && s.Len() != splitSize {
					t.Fatalf("size %d, split size %d: split %v before the last is not full", size, splitSize, s)
				}
			}
		}
	}
	huge := []File{{Path: "h", Size: math.MaxInt64}}
	for _, splitSize := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 / 2, math.MaxInt64 / 3, 1 << 62} {
		splits, err := Plan(huge, splitSize)
		if err != nil {
			t.Fatal(err)
		}
		if n := CountSplits(huge, splitSize); n != int64(len(splits)) {
			t.Fatalf("huge file, split size %d: CountSplits = %d, Plan made %d", splitSize, n, len(splits))
		}
	}
}

func TestPlanErrors(t *testing.T) {
	for _, size := range []int64{0, -1, math.MinInt64} {
		if _, err := Plan([]File{{Path: "a", Size: 1}}, size); !errors.Is(err, ErrSplitSize) {
			t.Errorf("Plan(size %d) error = %v, want ErrSplitSize", size, err)
		}
	}
	if _, err := Plan([]File{{Path: "neg", Size: -5}}, 10); err == nil {
		t.Error("Plan of a file with negative size: no error")
	}
}

func TestSplitString(t *testing.T) {
	s := Split{Index: 3, File: File{Path: "/in/x.txt", Size: 100}, Start: 64, End: 100}
	if got, want := s.String(), "/in/x.txt:[64,100)"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if s.Len() != 36 {
		t.Fatalf("Len() = %d, want 36", s.Len())
	}
}
