package input

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/quern-dev/quern/objstore"
)

// randomAccess is what the Parquet and Arrow IPC file readers need of a
// file: reads at any offset (the footer first, then the column chunks or
// batches it locates), and a stream from the start for an Arrow stream.
type randomAccess interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
}

// openRandomAccess opens f for the columnar readers: the file itself, or,
// for an object, a reader whose every ReadAt is one ranged GET. Parquet
// and Arrow readers read few, large ranges (a footer, then whole column
// chunks or batches), so one request per read costs little.
func openRandomAccess(f File) (randomAccess, error) {
	if !objstore.IsURL(f.Path) {
		return os.Open(f.Path)
	}
	ctx := context.Background()
	s, u, err := objstore.Open(ctx, f.Path)
	if err != nil {
		return nil, err
	}
	o := &objectReaderAt{s: s, key: u.Key, f: f}
	return &objectFile{SectionReader: io.NewSectionReader(o, 0, f.Size)}, nil
}

// objectFile is an object opened by openRandomAccess.
type objectFile struct{ *io.SectionReader }

func (*objectFile) Close() error { return nil }

// objectReaderAt reads ranges of the object f, each checked to be of the
// object version planned (File.objectChanged).
type objectReaderAt struct {
	s   objstore.Store
	key string
	f   File
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.f.Size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), o.f.Size-off)
	r, err := o.s.NewRangeReader(context.Background(), o.key, off, n)
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", o.f.Path, off, err)
	}
	defer r.Close()
	if err := o.f.objectChanged(r.Attrs()); err != nil {
		return 0, err
	}
	got, err := io.ReadFull(r, p[:n])
	if err != nil {
		return got, fmt.Errorf("read %s at %d: %w", o.f.Path, off, err)
	}
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}
