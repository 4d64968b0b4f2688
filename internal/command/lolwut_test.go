package command_test

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestLolwutSchotterLikeRedis: Schotter with at most two rows of squares
// draws no random numbers, so ferry's must be redis-server's byte for
// byte, over a sweep of widths and squares per row.
func TestLolwutSchotterLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		cols := 1 + r.IntN(200)
		if i%10 == 0 {
			cols = 1 + r.IntN(6)
		}
		args := []string{"LOLWUT", "VERSION", "5", strconv.Itoa(cols), strconv.Itoa(1 + r.IntN(40)), strconv.Itoa(1 + r.IntN(2))}
		if a, b := rc.Do(args...), fc.Do(args...); a != b {
			t.Fatalf("%q:\nredis-server %q\nferry        %q", args, a, b)
		}
	}
}

// lolwutText returns the text of a LOLWUT reply (a RESP2 bulk string).
func lolwutText(t *testing.T, c *redistest.Conn, args ...string) string {
	t.Helper()
	raw := c.Do(append([]string{"LOLWUT"}, args...)...)
	head, body, ok := strings.Cut(raw, "\r\n")
	n, err := strconv.Atoi(strings.TrimPrefix(head, "$"))
	if !ok || err != nil || !strings.HasPrefix(head, "$") || len(body) != n+2 {
		t.Fatalf("LOLWUT %q: %q", args, raw)
	}
	return body[:n]
}

// schotterShape checks a Schotter: rows of cols braille characters, the
// text after it, and at least one dot per square drawn.
func schotterShape(t *testing.T, text string, cols, rows int) {
	t.Helper()
	art, ok := strings.CutSuffix(text, "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n")
	if !ok {
		t.Fatalf("Schotter's caption: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(art, "\n"), "\n")
	if len(lines) != rows {
		t.Fatalf("Schotter of %d rows of characters has %d", rows, len(lines))
	}
	dots := 0
	for _, l := range lines {
		if utf8.RuneCountInString(l) != cols {
			t.Fatalf("Schotter line of %d characters, want %d: %q", utf8.RuneCountInString(l), cols, l)
		}
		for _, ch := range l {
			if ch < 0x2800 || ch > 0x28ff {
				t.Fatalf("not a braille character: %q", ch)
			}
			if ch != 0x2800 {
				dots++
			}
		}
	}
	if dots == 0 {
		t.Fatal("Schotter without a dot")
	}
}

// TestLolwutArt checks the random pictures' structure against redis-server's
// for the same arguments: Schotter's lines of braille and Skyline's rows of
// coloured cells, each with its caption.
func TestLolwutArt(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	for _, a := range [][3]int{{66, 8, 12}, {30, 3, 5}, {100, 20, 40}, {5, 2, 9}} {
		args := []string{"VERSION", "5", strconv.Itoa(a[0]), strconv.Itoa(a[1]), strconv.Itoa(a[2])}
		redisText := lolwutText(t, rc, args...)
		art, _, _ := strings.Cut(redisText, "\nGeorg Nees")
		rows := strings.Count(strings.TrimSuffix(art, "\n"), "\n") + 1
		for _, c := range []*redistest.Conn{rc, fc} {
			schotterShape(t, lolwutText(t, c, args...), a[0], rows)
		}
	}
	schotterShape(t, lolwutText(t, fc, "VERSION", "5"), 66, 49)
	cell := regexp.MustCompile(`^(\x1b\[(0;30;40m|0;90;100m|0;37;47m|0;97;107m) \x1b\[0m)+$`)
	for _, a := range [][2]int{{80, 20}, {10, 5}, {1, 1}, {3, 40}, {200, 3}} {
		args := []string{"VERSION", "6", strconv.Itoa(a[0]), strconv.Itoa(a[1])}
		if a == [2]int{80, 20} {
			args = args[:2] // the defaults
		}
		for _, c := range []*redistest.Conn{rc, fc} {
			text := lolwutText(t, c, args...)
			art, ok := strings.CutSuffix(text, "\nDedicated to the 8 bit game developers of past and present.\n"+
				"Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15\n")
			if !ok {
				t.Fatalf("Skyline's caption: %q", text)
			}
			lines := strings.Split(art, "\n")
			if len(lines) != a[1] {
				t.Fatalf("%v: %d rows, want %d", args, len(lines), a[1])
			}
			for _, l := range lines {
				if !cell.MatchString(l) || strings.Count(l, " ") != a[0] {
					t.Fatalf("%v: row %q", args, l)
				}
			}
			// The sky (white) is above every building: the top row is
			// white when buildings are shorter than the canvas.
			if a[1] >= 4 && strings.Count(lines[0], "0;97;107m") != a[0] {
				t.Errorf("%v: the top row is not all sky: %q", args, lines[0])
			}
		}
	}
}
