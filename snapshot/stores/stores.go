// Package stores opens the snapshot.Store that a --store URL names: a local
// directory (snapshot/fs, file:///DIR) or S3-compatible object storage
// (snapshot/s3, s3://BUCKET/PREFIX), for every command that takes one.
package stores

import (
	"context"
	"fmt"
	"os"

	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/s3"
)

// Options are the settings besides the URL; the zero value is the default.
type Options struct {
	// Endpoint is the S3 endpoint; empty: AWS_ENDPOINT_URL_S3, then
	// AWS_ENDPOINT_URL, else AWS.
	Endpoint string
	// Region signs S3 requests (empty: the AWS chain's).
	Region string
	// PathStyle forces path-style addressing on or off; nil: on when an
	// endpoint is set (what S3-compatible servers need).
	PathStyle *bool
	// SSE and SSEKMSKeyID ask for server-side encryption (see s3.Config).
	SSE, SSEKMSKeyID string
	// PartSize is the multipart upload part size (0: s3's default).
	PartSize int64
	// Mkdir creates a missing file:// directory instead of refusing it.
	Mkdir bool
}

// Open returns the store url names.
func Open(ctx context.Context, url string, o Options) (snapshot.Store, error) {
	loc, err := snapshot.ParseURL(url)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "file":
		if o.Mkdir {
			if err := os.MkdirAll(loc.Dir, 0o755); err != nil {
				return nil, fmt.Errorf("store %s: %w", url, err)
			}
		}
		return fs.New(loc.Dir)
	case "s3":
		endpoint := o.Endpoint
		if endpoint == "" {
			endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
		}
		if endpoint == "" {
			endpoint = os.Getenv("AWS_ENDPOINT_URL")
		}
		pathStyle := endpoint != ""
		if o.PathStyle != nil {
			pathStyle = *o.PathStyle
		}
		return s3.New(ctx, s3.Config{
			Bucket: loc.Bucket, Prefix: loc.Prefix, Endpoint: endpoint, Region: o.Region,
			PathStyle: pathStyle, SSE: o.SSE, SSEKMSKeyID: o.SSEKMSKeyID, PartSize: o.PartSize,
		})
	}
	return nil, fmt.Errorf("store %q: unknown scheme", url)
}
