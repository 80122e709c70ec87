// Package s3 is a backup target in a bucket of S3-compatible storage [E2] (Amazon S3, MinIO,
// Ceph, Garage, and the like), reached with the minio-go client.
//
// An S3 upload is committed whole or not at all, so Put needs no temporary name; it sends the
// object with its size known in advance and an MD5 per request the server checks, then reads the
// object back to check its SHA-256. Retrying a failed operation is the caller's business (see
// backup.Retry): the client itself does not retry, and errors come back within the configured
// timeout when the server cannot be reached.
package s3

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/skjold-project/skjold"
)

// DefaultTimeout bounds connecting, the TLS handshake and the wait for each response's headers.
const DefaultTimeout = 30 * time.Second

// metaSHA256 is the user metadata that carries the object's SHA-256 (x-amz-meta-sha256).
const metaSHA256 = "Sha256"

// Config says where the backups go and how to log in.
type Config struct {
	Endpoint   string        // host[:port] of the S3 service, without a scheme
	Bucket     string        // must exist
	Prefix     string        // objects are stored as Prefix/name; "" for the bucket's top level
	AccessKey  string        //
	SecretKey  string        // never logged nor shown in errors
	Region     string        // "" lets the client ask the server
	DisableTLS bool          // plain HTTP; allowed only for a loopback endpoint, as in tests
	CAFile     string        // PEM certificates to trust instead of the system's, for a private CA
	Timeout    time.Duration // DefaultTimeout when zero
}

// Target is an S3 backup target. It is safe for concurrent use.
type Target struct {
	cfg    Config
	client *minio.Client
	prefix string // Prefix with one trailing slash, or ""

	partSize uint64 // bytes per part of a multipart upload; 0 for the client's default (16 MiB)
}

var _ skjold.Target = (*Target)(nil)

// New checks cfg and returns a Target. It does not connect: a missing bucket or refused
// credentials show in the first operation. Errors are EINVALID and never show the secret key.
func New(cfg Config) (*Target, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	tr, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     !cfg.DisableTLS,
		Transport:  tr,
		Region:     cfg.Region,
		MaxRetries: 1, // no retries here: backup.Retry decides, with its own backoff
	})
	if err != nil {
		return nil, skjold.Errorf(skjold.EINVALID, "s3: endpoint %q: %v", cfg.Endpoint, err)
	}
	t := &Target{cfg: cfg, client: client}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		t.prefix = p + "/"
	}
	return t, nil
}

func (c *Config) check() error {
	for _, f := range []struct{ name, value string }{
		{"endpoint", c.Endpoint}, {"bucket", c.Bucket}, {"access_key", c.AccessKey}, {"secret_key", c.SecretKey},
	} {
		if strings.TrimSpace(f.value) == "" {
			return skjold.FieldError(f.name, "required", "s3: %s is required", f.name)
		}
	}
	if strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/") {
		return skjold.FieldError("endpoint", "host_port", "s3: endpoint is host[:port], without a scheme or path: %q", c.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return skjold.FieldError("bucket", "bucket_name", "s3: bucket %q: %v", c.Bucket, err)
	}
	if c.DisableTLS && !loopback(c.Endpoint) {
		return skjold.FieldError("disable_tls", "loopback", "s3: TLS may be turned off only for a loopback endpoint, not %q", c.Endpoint)
	}
	if c.Timeout < 0 {
		return skjold.FieldError("timeout", "positive", "s3: timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return nil
}

func loopback(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = endpoint
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// transport is minio-go's default, with cfg's timeouts and CA.
func transport(cfg Config) (*http.Transport, error) {
	tr, err := minio.DefaultTransport(!cfg.DisableTLS)
	if err != nil {
		return nil, err
	}
	tr.DialContext = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = cfg.Timeout
	tr.ResponseHeaderTimeout = cfg.Timeout
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, skjold.Errorf(skjold.EINVALID, "s3: ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, skjold.Errorf(skjold.EINVALID, "s3: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}

// Name is "s3:endpoint/bucket/prefix"; it holds no secret.
func (t *Target) Name() string {
	return "s3:" + t.cfg.Endpoint + "/" + t.cfg.Bucket + "/" + t.prefix
}

func (t *Target) key(name string) string { return t.prefix + name }

// Put uploads r as one object of known size: from r itself when it is a regular *os.File (read
// from its current offset), otherwise from a temporary copy in os.TempDir, so a reader that fails
// midway fails Put before anything is sent. The server commits the object only when all of it
// arrived intact. Put then reads the object back and returns its hex SHA-256; when that differs
// from what was sent, the object is deleted and Put fails. The parts of a failed multipart upload
// (objects over 16 MiB) are discarded, not left to be kept and billed.
func (t *Target) Put(ctx context.Context, name string, r io.Reader) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	src, err := open(r)
	if err != nil {
		return "", fmt.Errorf("%s: put %s: %w", t.Name(), name, err)
	}
	defer src.close()
	key := t.key(name)
	_, err = t.client.PutObject(ctx, t.cfg.Bucket, key, src.r, src.size, minio.PutObjectOptions{
		ContentType:    "application/octet-stream",
		UserMetadata:   map[string]string{metaSHA256: src.sum},
		SendContentMd5: true,
		PartSize:       t.partSize,
	})
	if err != nil {
		return "", t.fail(ctx, "put", name, err) // minio-go has aborted a failed multipart upload
	}
	held, err := t.checksum(ctx, key)
	if err != nil {
		return "", t.fail(ctx, "read back", name, err)
	}
	if held != src.sum {
		t.client.RemoveObject(context.WithoutCancel(ctx), t.cfg.Bucket, key, minio.RemoveObjectOptions{})
		return "", fmt.Errorf("%s: put %s: the stored object has SHA-256 %s, but %s was sent; it was deleted",
			t.Name(), name, held, src.sum)
	}
	return held, nil
}

// checksum reads an object and returns its hex SHA-256.
func (t *Target) checksum(ctx context.Context, key string) (string, error) {
	obj, err := t.client.GetObject(ctx, t.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Get opens an object for reading; it reads until ctx ends. Errors: ENOTFOUND.
func (t *Target) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	obj, err := t.client.GetObject(ctx, t.cfg.Bucket, t.key(name), minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // GetObject itself sends nothing; this asks whether the object is there
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		return nil, t.fail(ctx, "get", name, t.bucketMissing(ctx, err))
	}
	return obj, nil
}

// bucketMissing tells a missing bucket from a missing object: a HEAD request's answer has no body
// to say which, so the client reports both as NoSuchKey.
func (t *Target) bucketMissing(ctx context.Context, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		if ok, berr := t.client.BucketExists(ctx, t.cfg.Bucket); berr == nil && !ok {
			return minio.ErrorResponse{Code: minio.NoSuchBucket, BucketName: t.cfg.Bucket}
		}
	}
	return err
}

// List returns the names of the objects directly under Prefix, sorted.
func (t *Target) List(ctx context.Context) ([]string, error) {
	names := []string{}
	for obj := range t.client.ListObjectsIter(ctx, t.cfg.Bucket, minio.ListObjectsOptions{Prefix: t.prefix}) {
		if obj.Err != nil {
			return nil, t.fail(ctx, "list", "", obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, t.prefix)
		if checkName(name) == nil { // not a "directory" (common prefix) nor a name Put would refuse
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Delete removes an object; a missing one is not an error.
func (t *Target) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := t.client.RemoveObject(ctx, t.cfg.Bucket, t.key(name), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return t.fail(ctx, "delete", name, err)
	}
	return nil
}

// checkName refuses names that are not plain file names, and names starting with a dot, as the
// other targets do.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00") {
		return skjold.Errorf(skjold.EINVALID, "s3: %q is not a plain file name not starting with a dot", name)
	}
	return nil
}

// fail turns an error from the client into one that says which target, operation and object
// failed, and why in words an operator can act on.
func (t *Target) fail(ctx context.Context, op, name string, err error) error {
	what := op
	if name != "" {
		what += " " + name
	}
	var netErr net.Error
	switch code := minio.ToErrorResponse(err).Code; {
	case code == minio.NoSuchKey && op == "get":
		return skjold.Errorf(skjold.ENOTFOUND, "%s: no object %s", t.Name(), name)
	case code == minio.NoSuchBucket:
		return fmt.Errorf("%s: %s: bucket %q does not exist on %s: %w", t.Name(), what, t.cfg.Bucket, t.cfg.Endpoint, err)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch":
		return fmt.Errorf("%s: %s: the server refused the access key or its rights: %w", t.Name(), what, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %s: %w", t.Name(), what, context.Cause(ctx))
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%s: %s: no answer from %s within %s: %w", t.Name(), what, t.cfg.Endpoint, t.cfg.Timeout, err)
	}
	return fmt.Errorf("%s: %s: %w", t.Name(), what, err)
}
