package command

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/num"
)

// LOLWUT [VERSION v] [art arguments] (lolwut.c): Redis 7.0's own output is
// its version line; VERSION 5 draws Georg Nees's Schotter in braille, and
// VERSION 6 a skyline in terminal colours, as Redis 5 and 6 did. The art is
// ferry's own drawing of the same pictures with the same geometry and
// float32 arithmetic: where Redis draws no random numbers (Schotter with at
// most two rows of squares) the output is byte for byte Redis's; the
// random parts come from ferry's generator.

func init() {
	registrations = append(registrations, func(t *Table) {
		t.Add(&Command{Name: "lolwut", Arity: -1, Flags: ReadOnly | Fast, Group: "server", Since: "5.0.0", ACL: []string{"read", "fast"},
			Summary: "Shows the server's version, or (VERSION 5 or 6) computer art.", Handler: lolwutCmd})
	})
	argSyntax["lolwut"] = "[VERSION version:i]"
}

func lolwutCmd(c *Ctx) {
	args := c.Args[1:]
	version := uint32(7)
	if len(c.Args) >= 3 && c.Is(1, "version") {
		v, ok := c.Int(2)
		if !ok {
			return
		}
		// Redis prints the version with %u of an unsigned int: only the
		// low 32 bits count.
		version = uint32(v)
		args = c.Args[3:]
	}
	var art string
	switch version {
	case 5:
		a, ok := lolwutArgs(c, args, []int64{66, 8, 12}, []int64{1000, 200, 200})
		if !ok {
			return
		}
		art = schotter(int(a[0]), int(a[1]), int(a[2])) + "\nGeorg Nees - schotter, plotter on paper, 1968. "
	case 6:
		a, ok := lolwutArgs(c, args, []int64{80, 20}, []int64{1000, 1000})
		if !ok {
			return
		}
		art = skyline(int(a[0]), int(a[1])) +
			"\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. "
	}
	c.W.Verbatim(art + "Redis ver. " + c.e.cfg.Version + "\n")
}

// lolwutArgs parses the art's optional integer arguments over their
// defaults, each clamped to [1, its maximum].
func lolwutArgs(c *Ctx, args [][]byte, defaults, maxes []int64) ([]int64, bool) {
	out := slices.Clone(defaults)
	for i := range out {
		if i >= len(args) {
			break
		}
		n, ok := num.ParseInt(args[i])
		if !ok {
			c.Error(ErrNotInt)
			return nil, false
		}
		out[i] = min(max(n, 1), maxes[i])
	}
	return out, true
}

// canvas is a grid of small colour numbers (0 is the background of
// Schotter; Skyline uses four greys).
type canvas struct {
	w, h int
	px   []byte
}

func newCanvas(w, h int, bg byte) *canvas {
	cv := &canvas{w: w, h: h, px: make([]byte, w*h)}
	for i := range cv.px {
		cv.px[i] = bg
	}
	return cv
}

// set colours a pixel; drawing outside the canvas does nothing.
func (cv *canvas) set(x, y int, col byte) {
	if x >= 0 && x < cv.w && y >= 0 && y < cv.h {
		cv.px[y*cv.w+x] = col
	}
}

// at is a pixel's colour, 0 outside the canvas.
func (cv *canvas) at(x, y int) byte {
	if x >= 0 && x < cv.w && y >= 0 && y < cv.h {
		return cv.px[y*cv.w+x]
	}
	return 0
}

// line draws from (x0, y0) to (x1, y1) with Bresenham's integer steps.
func (cv *canvas) line(x0, y0, x1, y1 int, col byte) {
	dx, dy := x1-x0, y1-y0
	if dx < 0 {
		dx = -dx
	}
	if dy < 0 {
		dy = -dy
	}
	sx, sy := -1, -1
	if x0 < x1 {
		sx = 1
	}
	if y0 < y1 {
		sy = 1
	}
	diff := dx - dy
	for {
		cv.set(x0, y0, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		d2 := 2 * diff
		if d2 > -dy {
			diff -= dy
			x0 += sx
		}
		if d2 < dx {
			diff += dx
			y0 += sy
		}
	}
}

// square draws the outline of a square of side side centred on (x, y),
// turned by angle radians. Its corners lie on a circle: the side over √2
// (rounded) is the radius, and the first corner is at 45° plus the angle.
// The float32 steps are those of Redis's drawing, so corners land on the
// same pixels.
func (cv *canvas) square(x, y int, side, angle float32) {
	r := float32(float64(side) / 1.4142135623)
	r = float32(math.Round(float64(r)))
	k := float32(math.Pi/4 + float64(angle))
	var px, py [4]int
	for j := range 4 {
		px[j] = int(math.Round(math.Sin(float64(k))*float64(r) + float64(x)))
		py[j] = int(math.Round(math.Cos(float64(k))*float64(r) + float64(y)))
		k = float32(float64(k) + math.Pi/2)
	}
	for j := range 4 {
		cv.line(px[j], py[j], px[(j+1)%4], py[(j+1)%4], 1)
	}
}

// schotter draws Georg Nees's Schotter for a terminal cols wide: rows of
// perRow squares, perCol rows, each row from the third on more displaced
// and turned at random than the one above it.
func schotter(cols, perRow, perCol int) string {
	w := cols * 2
	pad := 0
	if w > 4 {
		pad = 2
	}
	side := float32(w-2*pad) / float32(perRow)
	h := int(side*float32(perCol) + float32(2*pad))
	cv := newCanvas(w, h, 0)
	for y := range perCol {
		for x := range perRow {
			sx := int(float32(x)*side + side/2 + float32(pad))
			sy := int(float32(y)*side + side/2 + float32(pad))
			var angle float32
			if y > 1 {
				var r [3]float32
				for i := range r {
					r[i] = rand.Float32() / float32(perCol) * float32(y)
				}
				for i := range r {
					if rand.IntN(2) == 1 {
						r[i] = -r[i]
					}
				}
				angle = r[0]
				sx = int(float32(sx) + r[1]*side/3)
				sy = int(float32(sy) + r[2]*side/3)
			}
			cv.square(sx, sy, side, angle)
		}
	}
	return brailleText(cv)
}

// brailleText renders each 2x4 block of pixels as one braille character
// (U+2800 plus a bit per dot: column 0 rows 0-2 are bits 0-2, column 1
// rows 0-2 bits 3-5, row 3 bits 6 and 7), a line per four rows. Every line
// but one ending on the canvas's last row is followed by a newline.
func brailleText(cv *canvas) string {
	var b strings.Builder
	bits := [8][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {0, 3}, {1, 3}}
	for y := 0; y < cv.h; y += 4 {
		for x := 0; x < cv.w; x += 2 {
			dots := 0
			for i, d := range bits {
				if cv.at(x+d[0], y+d[1]) != 0 {
					dots |= 1 << i
				}
			}
			b.WriteRune(rune(0x2800 + dots))
		}
		if y != cv.h-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// skyline draws a city skyline in the four greys of a terminal (3 white,
// the sky; 2 and 1 greys; 0 black): two rows of window-less buildings in
// the back, the lighter farther, then black buildings with lit windows.
func skyline(cols, rows int) string {
	cv := newCanvas(cols, rows, 3)
	for col := byte(2); col >= 1; col-- {
		for off := -10; off < cols; {
			off += rand.IntN(8)
			width := 10 + rand.IntN(9)
			var height int
			if col == 2 {
				height = rows/2 + rand.IntN(rows)/2
			} else {
				height = rows/2 + rand.IntN(rows)/3
			}
			cv.building(off, width, height, col, false)
			if col == 2 {
				off += width / 2
			} else {
				off += width + 1
			}
		}
	}
	for off := -10; off < cols; {
		off += rand.IntN(8)
		width := 5 + rand.IntN(14)
		if width%4 != 0 {
			width += width % 3
		}
		height := rows/3 + rand.IntN(rows)/2
		cv.building(off, width, height, 0, true)
		off += width + 5
	}
	var b strings.Builder
	for y := range rows {
		for x := range cols {
			b.WriteString("\x1b[")
			b.WriteString(greys[min(int(cv.at(x, y)), 3)])
			b.WriteString(" \x1b[0m")
		}
		if y != rows-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// greys are the terminal colours (foreground and background) of the four
// levels, black to white.
var greys = [4]string{"0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"}

// building draws one building standing on the canvas's last row, its roof
// two pixels narrower on each side; with windows, the inner part has
// windows two pixels wide on every other row, each grey (1 or 2) at random.
func (cv *canvas) building(xoff, width, height int, col byte, windows bool) {
	bottom := cv.h - 1
	top := bottom - height + 1
	for y := bottom; y >= top; y-- {
		for x := xoff; x < xoff+width; x++ {
			if y == top && (x <= xoff+1 || x >= xoff+width-2) {
				continue
			}
			c := col
			if windows && x > xoff+1 && x < xoff+width-2 && y > top+1 && y < bottom-1 {
				rx, ry := x-(xoff+1), y-(top+1)
				if (rx/2)%2 != 0 && ry%2 != 0 {
					if rx%2 != 0 {
						c = cv.at(x-1, y)
					} else {
						c = byte(1 + rand.IntN(2))
						for c == col {
							c = byte(1 + rand.IntN(2))
						}
					}
				}
			}
			cv.set(x, y, c)
		}
	}
}
