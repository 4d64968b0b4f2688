package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Defaults for the zero values of Config.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 2
	DefaultRegion      = "us-east-1"

	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// maxParts is S3's largest part count: with DefaultPartSize an object
	// can reach 156 GiB.
	maxParts = 10000
)

// Config says which bucket to use and how to reach it. Credentials come
// from the standard AWS chain unless AccessKeyID is set: environment
// variables, the shared config and credentials files (profiles, SSO,
// credential_process, assumed roles), web identity, the ECS and EKS
// container endpoints, Lambda's environment, and EC2 instance roles. The
// zero value of every optional field means its default.
type Config struct {
	// Bucket holds the snapshots. Required.
	Bucket string
	// Prefix is prepended to every key, with a '/': objects are
	// <Prefix>/<dataset>/snapshots/..., manifests <Prefix>/<dataset>/manifest.json.
	Prefix string

	// Endpoint is the S3 server's URL (http://127.0.0.1:7070). Empty: the
	// AWS chain's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
	// endpoint_url), else AWS's own.
	Endpoint string
	// Region signs the requests. Empty: the AWS chain's (AWS_REGION, the
	// profile's), else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// rather than in the host name: what most S3-compatible servers need.
	PathStyle bool
	// Profile selects a shared config profile (default: AWS_PROFILE, or
	// "default").
	Profile string

	// AccessKeyID and SecretAccessKey (and SessionToken for temporary
	// credentials), when set, are used instead of the AWS chain.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// SSE asks the server to encrypt objects and manifests at rest:
	// "AES256" (SSE-S3) or "aws:kms" (SSE-KMS, with SSEKMSKeyID, or the
	// bucket's default key when empty). Empty: the bucket's default.
	SSE         string
	SSEKMSKeyID string

	// PartSize is the size of each part of a multipart upload (at least
	// 5 MiB, default 8 MiB). A snapshot smaller than one part goes up in a
	// single request.
	PartSize int64
	// Concurrency is how many parts are in memory at once, one filling
	// while the others upload (default 2). A Put holds up to
	// Concurrency*PartSize bytes.
	Concurrency int
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("s3: no bucket")
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("s3: prefix %q: no leading or trailing '/'", c.Prefix)
	}
	if c.Prefix != "" {
		for _, seg := range strings.Split(c.Prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return fmt.Errorf("s3: prefix %q: empty, '.' or '..' segment", c.Prefix)
			}
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q: want http(s)://host[:port]", c.Endpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3: access key ID and secret access key go together")
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		return errors.New("s3: session token without access key")
	}
	switch c.SSE {
	case "", "AES256", "aws:kms":
	default:
		return fmt.Errorf("s3: server-side encryption %q: want AES256 or aws:kms", c.SSE)
	}
	if c.SSEKMSKeyID != "" && c.SSE != "aws:kms" {
		return errors.New("s3: a KMS key ID needs SSE aws:kms")
	}
	if c.PartSize != 0 && c.PartSize < MinPartSize {
		return fmt.Errorf("s3: part size %d: at least %d", c.PartSize, MinPartSize)
	}
	if c.PartSize > 5<<30 {
		return fmt.Errorf("s3: part size %d: at most 5 GiB", c.PartSize)
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("s3: negative concurrency %d", c.Concurrency)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}
