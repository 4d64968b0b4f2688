package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// serveEvent runs one HTTP request that reached Lambda through a Function
// URL or an API Gateway HTTP API (payload format 2.0, the same JSON for
// both) through h, and returns h's response as the event's response.
func serveEvent(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return errorResponse(http.StatusBadRequest, "request body: invalid base64"), nil
		}
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return errorResponse(http.StatusBadRequest, fmt.Sprintf("request: %v", err)), nil
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP + ":0"

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Headers: map[string]string{}}
	for k, vs := range rec.Header() {
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	out := rec.Body.Bytes()
	if utf8.Valid(out) {
		resp.Body = string(out)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(out)
		resp.IsBase64Encoded = true
	}
	return resp, nil
}

// errorResponse is an Upstash-style error body with status.
func errorResponse(status int, msg string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}
