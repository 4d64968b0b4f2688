package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int64
	}{
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, 966367641},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 120795955},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "GOMEMLIMIT": "500MiB"}, 0},
		{map[string]string{}, 0},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, 0},
		{map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "-5"}, 0},
	} {
		if got := memoryLimit(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("memoryLimit(%v) = %d, want %d", c.env, got, c.want)
		}
	}
}
