package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for the zero values of Config.
const (
	DefaultName       = "ferry"
	DefaultReplicas   = 1
	DefaultMaxPending = 4096
	DefaultTimeout    = 5 * time.Second
)

// Config says which NATS server to use, how to authenticate, and how the
// dataset's stream is kept. The zero value of every optional field means
// its default.
type Config struct {
	// URL of the NATS server: nats://host:4222, tls://host:4222, or several
	// comma-separated. Required.
	URL string
	// Dataset names the log: stream FERRY_<DATASET> (upper-cased), subject
	// ferry.<dataset>.log. Letters, digits, '-' and '_'. Required.
	Dataset string

	// Replicas is the stream's replica count on a NATS cluster (1 to 5,
	// default 1).
	Replicas int
	// MaxAge drops entries older than this; 0 keeps them regardless of age.
	MaxAge time.Duration
	// MaxBytes drops the oldest entries once the log is bigger; 0 means no
	// limit of its own (the account's JetStream limits still apply).
	MaxBytes int64

	// ReadOnly is for replicas: Open then never creates the stream or
	// changes its settings (a missing stream is an error, never an empty
	// log), and Append/AppendAsync are refused.
	ReadOnly bool
	// Mirror names a stream to read the log from instead of
	// FERRY_<DATASET>: a JetStream mirror of it, say in the NATS cluster of
	// another region (cascading replicas). A mirror keeps the offsets of
	// the stream it mirrors. Only with ReadOnly.
	Mirror string

	// MaxEntryBytes is the largest entry Append takes (default
	// DefaultMaxEntryBytes). Entries larger than one NATS message are
	// kept in the dataset's object store bucket (BucketName).
	MaxEntryBytes int

	// MaxPending bounds the AppendAsync calls awaiting the server's
	// confirmation (default 4096). At the bound AppendAsync waits, at most
	// Timeout.
	MaxPending int
	// Timeout bounds connecting, each request made without a context
	// deadline, and the wait for each AppendAsync confirmation (default 5s).
	Timeout time.Duration

	// Authentication: at most one of CredsFile, NKeySeedFile, User+Password,
	// Token. Credentials in URL work too.
	CredsFile    string
	NKeySeedFile string
	User         string
	Password     string
	Token        string

	// TLS: TLSCA verifies the server; TLSCert and TLSKey (both or neither)
	// are the client certificate.
	TLSCA   string
	TLSCert string
	TLSKey  string

	// InProcess, when set, connects to a NATS server running in this
	// process without the network (natsserver.Server); URL is then
	// only what logs and errors name.
	InProcess nats.InProcessConnProvider
	// Name is the connection name the server shows (default "ferry").
	Name string
	// Logger receives connection events (disconnects, reconnects). Nil
	// discards them.
	Logger *slog.Logger
}

// maxDatasetLen keeps stream names and subjects well under NATS's limits.
const maxDatasetLen = 64

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if strings.TrimSpace(c.URL) == "" {
		return errors.New("jetstream: no NATS URL")
	}
	if err := ValidateDataset(c.Dataset); err != nil {
		return err
	}
	if c.Mirror != "" {
		if !c.ReadOnly {
			return fmt.Errorf("jetstream: mirror %s: only a reader can read a mirror", c.Mirror)
		}
		if strings.ContainsAny(c.Mirror, " \t.*>/\\") {
			return fmt.Errorf("jetstream: mirror %q: not a stream name", c.Mirror)
		}
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("jetstream: replicas %d: want 1 to 5", c.Replicas)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("jetstream: negative max age %s", c.MaxAge)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("jetstream: negative max bytes %d", c.MaxBytes)
	}
	if c.MaxEntryBytes < 0 {
		return fmt.Errorf("jetstream: negative max entry bytes %d", c.MaxEntryBytes)
	}
	if c.MaxPending < 0 {
		return fmt.Errorf("jetstream: negative max pending %d", c.MaxPending)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("jetstream: negative timeout %s", c.Timeout)
	}
	auth := 0
	for _, set := range []bool{c.CredsFile != "", c.NKeySeedFile != "", c.User != "" || c.Password != "", c.Token != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		return errors.New("jetstream: set at most one of creds file, nkey seed file, user/password, token")
	}
	if c.Password != "" && c.User == "" {
		return errors.New("jetstream: password without user")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("jetstream: TLS client certificate and key go together")
	}
	return nil
}

// ValidateDataset checks a dataset name: 1 to 64 letters, digits, '-' or '_'.
func ValidateDataset(name string) error {
	if name == "" {
		return errors.New("jetstream: no dataset name")
	}
	if len(name) > maxDatasetLen {
		return fmt.Errorf("jetstream: dataset name longer than %d bytes", maxDatasetLen)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return fmt.Errorf("jetstream: dataset name %q: only letters, digits, '-' and '_'", name)
		}
	}
	return nil
}

// StreamName is the JetStream stream that holds dataset's log.
func StreamName(dataset string) string { return "FERRY_" + strings.ToUpper(dataset) }

// Subject is the subject dataset's entries are published on.
func Subject(dataset string) string { return "ferry." + dataset + ".log" }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxEntryBytes == 0 {
		c.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// redactURL hides passwords and tokens in a (comma-separated) server URL so
// it can go into errors and logs.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil {
			if at := strings.LastIndexByte(p, '@'); at >= 0 {
				p = "xxxxx" + p[at:]
			}
			parts[i] = p
			continue
		}
		if u.User == nil {
			parts[i] = p
			continue
		}
		if _, ok := u.User.Password(); !ok {
			// nats://TOKEN@host: the user part is the secret.
			u.User = url.User("xxxxx")
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
