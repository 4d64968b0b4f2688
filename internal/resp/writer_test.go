package resp

import (
	"math"
	"testing"
)

func TestWriterForms(t *testing.T) {
	cases := []struct {
		name       string
		write      func(w *Writer)
		resp2, rp3 string
	}{
		{"ok", func(w *Writer) { w.OK() }, "+OK\r\n", "+OK\r\n"},
		{"status", func(w *Writer) { w.Status("QUEUED") }, "+QUEUED\r\n", "+QUEUED\r\n"},
		{"error", func(w *Writer) { w.Error("ERR bad\r\nthing\n") }, "-ERR bad  thing \r\n", "-ERR bad  thing \r\n"},
		{"int", func(w *Writer) { w.Int(-42) }, ":-42\r\n", ":-42\r\n"},
		{"int-min", func(w *Writer) { w.Int(math.MinInt64) }, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
		{"bulk", func(w *Writer) { w.Bulk([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n"},
		{"bulk-empty", func(w *Writer) { w.Bulk(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
		{"bulk-string", func(w *Writer) { w.BulkString("xyz") }, "$3\r\nxyz\r\n", "$3\r\nxyz\r\n"},
		{"bulk-int", func(w *Writer) { w.BulkInt(-7) }, "$2\r\n-7\r\n", "$2\r\n-7\r\n"},
		{"null", func(w *Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
		{"null-array", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
		{"array", func(w *Writer) { w.Array(2); w.Int(1); w.Null() }, "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"},
		{"map", func(w *Writer) { w.Map(1); w.BulkString("k"); w.Int(1) }, "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"},
		{"set", func(w *Writer) { w.Set(1); w.BulkString("m") }, "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n"},
		{"push", func(w *Writer) { w.Push(1); w.BulkString("m") }, "*1\r\n$1\r\nm\r\n", ">1\r\n$1\r\nm\r\n"},
		{"bool-true", func(w *Writer) { w.Bool(true) }, ":1\r\n", "#t\r\n"},
		{"bool-false", func(w *Writer) { w.Bool(false) }, ":0\r\n", "#f\r\n"},
		{"double", func(w *Writer) { w.Double(1.5) }, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{"double-inf", func(w *Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
		{"double-minus-inf", func(w *Writer) { w.Double(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"double-nan", func(w *Writer) { w.Double(math.NaN()) }, "$3\r\nnan\r\n", ",nan\r\n"},
		{"double-tenth", func(w *Writer) { w.Double(0.1) }, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"},
		{"verbatim", func(w *Writer) { w.Verbatim("a\nb") }, "$3\r\na\nb\r\n", "=7\r\ntxt:a\nb\r\n"},
		{"raw", func(w *Writer) { w.Raw([]byte("+X\r\n")) }, "+X\r\n", "+X\r\n"},
	}
	for _, c := range cases {
		for proto, want := range map[int]string{2: c.resp2, 3: c.rp3} {
			w := Writer{Proto: proto}
			c.write(&w)
			if string(w.Buf) != want {
				t.Errorf("%s RESP%d: got %q, want %q", c.name, proto, w.Buf, want)
			}
		}
	}
}

func TestWriterDeferred(t *testing.T) {
	for _, proto := range []int{2, 3} {
		w := Writer{Proto: proto}
		w.Status("before")
		outer := w.Defer()
		for i := 0; i < 3; i++ {
			inner := w.Defer()
			for j := 0; j < i; j++ {
				w.Int(int64(j))
			}
			w.SetArray(inner, i)
		}
		w.SetArray(outer, 3)
		w.Status("after")
		want := "+before\r\n*3\r\n*0\r\n*1\r\n:0\r\n*2\r\n:0\r\n:1\r\n+after\r\n"
		if string(w.Buf) != want {
			t.Errorf("RESP%d nested arrays: got %q, want %q", proto, w.Buf, want)
		}

		w.Reset()
		m := w.Defer()
		for i := 0; i < 12; i++ {
			w.BulkString("f")
			w.Int(int64(i))
		}
		w.SetMap(m, 12)
		head := map[int]string{2: "*24\r\n", 3: "%12\r\n"}[proto]
		if got := string(w.Buf[:len(head)]); got != head {
			t.Errorf("RESP%d deferred map header: %q, want %q", proto, got, head)
		}
		if got := string(w.Buf[len(head):][:4]); got != "$1\r\n" {
			t.Errorf("RESP%d deferred map body moved: %q", proto, w.Buf)
		}

		w.Reset()
		s := w.Defer()
		w.SetSet(s, 0)
		want = map[int]string{2: "*0\r\n", 3: "~0\r\n"}[proto]
		if string(w.Buf) != want {
			t.Errorf("RESP%d empty deferred set: %q, want %q", proto, w.Buf, want)
		}
	}
}

// TestAppendG17 checks the formatting against C's printf("%.17g").
func TestAppendG17(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{0.1, "0.10000000000000001"},
		{1.1, "1.1000000000000001"},
		{1e20, "1e+20"},
		{1e-5, "1.0000000000000001e-05"},
		{123456789012345678, "1.2345678901234568e+17"},
		{math.Copysign(0, -1), "-0"},
		{0, "0"},
		{1.5e300, "1.5000000000000001e+300"},
		{5e-324, "4.9406564584124654e-324"},
		{1e16, "10000000000000000"},
		{1e17, "1e+17"},
		{12345678901234567890, "1.2345678901234567e+19"},
		{0.0001, "0.0001"},
		{0.00001234, "1.234e-05"},
		{100, "100"},
		{3, "3"},
		{-2.5, "-2.5"},
		{1.0 / 3, "0.33333333333333331"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{123456.789, "123456.789"},
		{9007199254740993, "9007199254740992"},
		{0.30000000000000004, "0.30000000000000004"},
		{1e-7, "9.9999999999999995e-08"},
		{-1e-300, "-1e-300"},
		{99999999999999999, "1e+17"},
		{1e15, "1000000000000000"},
		{0.5, "0.5"},
	}
	for _, c := range cases {
		if got := string(AppendG17(nil, c.f)); got != c.want {
			t.Errorf("AppendG17(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	if got := string(AppendDouble([]byte("x="), math.Inf(-1))); got != "x=-inf" {
		t.Errorf("AppendDouble(-inf) = %q", got)
	}
}
