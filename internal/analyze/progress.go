package analyze

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressDelay is how long a run must take before a progress bar appears:
// quick runs leave the terminal untouched.
const progressDelay = time.Second

// ProgressBar draws Run's progress on one terminal line (carriage return, no
// scrolling) once a run has taken longer than a second, and erases it at the
// end. Use its Update as Options.Progress; write it only to a terminal.
type ProgressBar struct {
	w     io.Writer
	shown bool
}

// NewProgressBar returns a bar that draws on w.
func NewProgressBar(w io.Writer) *ProgressBar { return &ProgressBar{w: w} }

// Update draws p.
func (b *ProgressBar) Update(p Progress) {
	if p.Done {
		if b.shown {
			fmt.Fprint(b.w, "\r\x1b[K")
		}
		return
	}
	if p.Elapsed < progressDelay {
		return
	}
	b.shown = true
	fmt.Fprint(b.w, "\r"+progressLine(p)+"\x1b[K")
}

// progressLine renders p: a bar and percentage when the total is known, and
// the bytes, lines and rate in any case.
func progressLine(p Progress) string {
	const width = 30
	rate := float64(p.ReadBytes) / max(p.Elapsed.Seconds(), 1e-9)
	tail := fmt.Sprintf("%s read, %s lines, %s/s", size(p.ReadBytes), count(p.Lines), size(int64(rate)))
	if p.Total <= 0 {
		return "reading " + tail
	}
	frac := min(float64(p.ReadBytes)/float64(p.Total), 1)
	full := int(frac * width)
	bar := strings.Repeat("=", full) + strings.Repeat(" ", width-full)
	line := fmt.Sprintf("[%s] %3.0f%% of %s, %s", bar, 100*frac, size(p.Total), tail)
	if rate > 0 && frac < 1 {
		eta := time.Duration(float64(p.Total-p.ReadBytes) / rate * float64(time.Second))
		line += fmt.Sprintf(", %s left", eta.Round(time.Second))
	}
	return line
}
