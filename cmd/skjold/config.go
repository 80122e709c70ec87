package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/skjold-project/skjold/store"
)

// Config is Skjold's configuration. It is read from defaults, then a TOML file, then SKJOLD_*
// environment variables, then command-line flags; each later source wins.
type Config struct {
	Addr         string `toml:"addr"`          // listen address (host:port)
	RedirectAddr string `toml:"redirect_addr"` // "" for none, or a plain-HTTP host:port that only redirects to HTTPS
	HTTPAddr     string `toml:"http_addr"`     // "" for none, or a plain-HTTP API listener on loopback or a unix socket, for a TLS-terminating proxy
	Data         string `toml:"data"`          // data directory
	Database     string `toml:"database"`      // "" for SQLite in the data directory, or a postgres:// URL
	// PostgreSQL session limits (Go durations; "0" turns one off): see store.PostgresLimits.
	DBIdleInTransactionTimeout string `toml:"db_idle_in_transaction_timeout"`
	DBLockTimeout              string `toml:"db_lock_timeout"`
	DBStatementTimeout         string `toml:"db_statement_timeout"`
	MasterKeyFile              string `toml:"master_key_file"` // "" for <data>/master.key
	TLSCertFile                string `toml:"tls_cert_file"`   // "" for a self-signed certificate in the data directory
	TLSKeyFile                 string `toml:"tls_key_file"`
	LogLevel                   string `toml:"log_level"` // debug, info, warn or error

	PublicURL     string `toml:"public_url"`     // the address people use, for links in e-mails; "" for https://<addr>
	OperatorEmail string `toml:"operator_email"` // the first operator owner's login
	SMTPHost      string `toml:"smtp_host"`      // "" to write e-mail to <data>/outbox instead
	SMTPPort      string `toml:"smtp_port"`
	SMTPUsername  string `toml:"smtp_username"`
	SMTPPassword  string `toml:"smtp_password"`
	SMTPFrom      string `toml:"smtp_from"`
	SMTPCAFile    string `toml:"smtp_ca_file"`   // PEM certificates to trust for the relay; "" for the system's
	BreachAPIURL  string `toml:"breach_api_url"` // a k-anonymity range API; "" turns the check off
	// SMS [H1]: a generic HTTPS gateway gets sms_gateway_body (a template over .To, .From and
	// .Body) with the header sms_gateway_auth_header: sms_gateway_auth (or the first line of
	// sms_gateway_auth_file); with no gateway, text messages go to <data>/sms-outbox.
	SMSGatewayURL         string `toml:"sms_gateway_url"`
	SMSGatewayAuthHeader  string `toml:"sms_gateway_auth_header"`
	SMSGatewayAuth        string `toml:"sms_gateway_auth"`
	SMSGatewayAuthFile    string `toml:"sms_gateway_auth_file"`
	SMSGatewayBody        string `toml:"sms_gateway_body"`
	SMSGatewayContentType string `toml:"sms_gateway_content_type"`
	SMSGatewayCAFile      string `toml:"sms_gateway_ca_file"` // PEM certificates to trust for the gateway; "" for the system's
	SMSFrom               string `toml:"sms_from"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed (comma-separated CIDRs).
	TrustedProxies string `toml:"trusted_proxies"`
	BlockListFile  string `toml:"blocklist_file"`
	// Login floods [B11]: password_checks argon2id hashes run at once ("" for twice the CPUs),
	// at most password_checks_per_source of them for one source ("" for half, at least 1); a
	// source is an IPv4 address or an IPv6 prefix of ban_ipv6_prefix bits ("" for 64), which
	// is also how IPv6 addresses are counted and banned.
	PasswordChecks          string `toml:"password_checks"`
	PasswordChecksPerSource string `toml:"password_checks_per_source"`
	BanIPv6Prefix           string `toml:"ban_ipv6_prefix"`
	// Alerts [F1]: security events named in alert_actions (comma-separated; empty for the
	// default list) go to alert_email and/or alert_webhook_url, signed with alert_webhook_secret.
	AlertEmail         string `toml:"alert_email"`
	AlertWebhookURL    string `toml:"alert_webhook_url"`
	AlertWebhookSecret string `toml:"alert_webhook_secret"`
	AlertActions       string `toml:"alert_actions"`  // CIDR block list loaded at start, one range per line
	AlertLanguage      string `toml:"alert_language"` // language of the alert e-mails: en, nb or pl; empty for en
	// RetentionInterval is how often the retention sweep runs (a Go duration, at least 1m).
	RetentionInterval string `toml:"retention_interval"`
	// JobLease is the lease period of the periodic jobs that run on one node at a time
	// (retention, hourly jobs): another node takes a job over within it when its holder dies.
	JobLease string `toml:"job_lease"`

	// SubprocessorNoticeDays is how many days before a new sub-processor takes effect the
	// tenant owners are e-mailed [G2]; empty for 30.
	SubprocessorNoticeDays string `toml:"subprocessor_notice_days"`
	// Backups [E1, E2]: the age public keys ("age1…", comma-separated) backups are encrypted
	// to (the server needs no identity, so it cannot read its own backups), and the local
	// directories they go to (comma-separated; two directories are a mirror).
	BackupRecipients string `toml:"backup_recipients"`
	BackupDirs       string `toml:"backup_dirs"`
	// Backup schedules [E1–E4]: local backups at backup_times (HH:MM, comma-separated) in
	// backup_zone (an IANA zone; "Local" for the machine's), the off-site copy at offsite_time,
	// the restore drill at drill_time; rotation keeps backup_keep days. The drill restores in
	// full only with backup_drill_identity_file (an age identity); else it checks checksums.
	BackupTimes             string `toml:"backup_times"`
	BackupZone              string `toml:"backup_zone"`
	BackupKeep              string `toml:"backup_keep"`
	OffsiteTime             string `toml:"offsite_time"`
	DrillTime               string `toml:"drill_time"`
	BackupDrillIdentityFile string `toml:"backup_drill_identity_file"`
	// Off-site targets [E2]: an SFTP server (all of addr, user, key file, known_hosts and
	// directory) and/or an S3-compatible bucket (endpoint, bucket and both keys).
	BackupSFTPAddr       string `toml:"backup_sftp_addr"`
	BackupSFTPUser       string `toml:"backup_sftp_user"`
	BackupSFTPKeyFile    string `toml:"backup_sftp_key_file"`
	BackupSFTPKnownHosts string `toml:"backup_sftp_known_hosts"`
	BackupSFTPDir        string `toml:"backup_sftp_dir"`
	BackupS3Endpoint     string `toml:"backup_s3_endpoint"`
	BackupS3Bucket       string `toml:"backup_s3_bucket"`
	BackupS3Prefix       string `toml:"backup_s3_prefix"`
	BackupS3AccessKey    string `toml:"backup_s3_access_key"`
	BackupS3SecretKey    string `toml:"backup_s3_secret_key"`
	BackupS3Region       string `toml:"backup_s3_region"`
	// Secrets from files [issue 15]: each *_file names a file whose content (a trailing line
	// break dropped) is the secret, read at start, so that it is in neither ps nor the config.
	SMTPPasswordFile       string `toml:"smtp_password_file"`
	AlertWebhookSecretFile string `toml:"alert_webhook_secret_file"`
	BackupS3AccessKeyFile  string `toml:"backup_s3_access_key_file"`
	BackupS3SecretKeyFile  string `toml:"backup_s3_secret_key_file"`
	DatabaseFile           string `toml:"database_file"`
}

func defaultConfig() Config {
	return Config{Addr: "127.0.0.1:8443", Data: "skjold-data", LogLevel: "info", OperatorEmail: "owner@skjold.local",
		SMTPFrom: "skjold@skjold.local", RetentionInterval: "1h", JobLease: "30s",
		DBIdleInTransactionTimeout: "5s", DBLockTimeout: "3s", DBStatementTimeout: "30s",
		BackupTimes: "14:00,19:00", BackupZone: "Local", BackupKeep: "7", OffsiteTime: "02:00", DrillTime: "04:00"}
}

// setting ties one configuration value to its environment variable and flag.
type setting struct {
	env, flag, usage string
	value            func(*Config) *string
}

var settings = []setting{
	{"SKJOLD_ADDR", "addr", "listen address (host:port)", func(c *Config) *string { return &c.Addr }},
	{"SKJOLD_REDIRECT_ADDR", "redirect-addr", "plain-HTTP listen address (host:port) that only redirects to HTTPS; empty for none", func(c *Config) *string { return &c.RedirectAddr }},
	{"SKJOLD_HTTP_ADDR", "http-addr", "plain-HTTP API listener for a TLS-terminating proxy on this host: a loopback host:port or unix:/path; empty for none", func(c *Config) *string { return &c.HTTPAddr }},
	{"SKJOLD_DATA", "data", "data directory", func(c *Config) *string { return &c.Data }},
	{"SKJOLD_DATABASE", "database", "PostgreSQL URL (postgres://…); empty for SQLite in the data directory", func(c *Config) *string { return &c.Database }},
	{"SKJOLD_DB_IDLE_IN_TRANSACTION_TIMEOUT", "db-idle-in-transaction-timeout", "PostgreSQL: end a session idle this long inside a transaction (a stalled node); 0 for never", func(c *Config) *string { return &c.DBIdleInTransactionTimeout }},
	{"SKJOLD_DB_LOCK_TIMEOUT", "db-lock-timeout", "PostgreSQL: fail a statement (503) that waits this long for a lock; 0 for never", func(c *Config) *string { return &c.DBLockTimeout }},
	{"SKJOLD_DB_STATEMENT_TIMEOUT", "db-statement-timeout", "PostgreSQL: cancel a statement that runs this long (backups and audit verification are exempt); 0 for never", func(c *Config) *string { return &c.DBStatementTimeout }},
	{"SKJOLD_MASTER_KEY_FILE", "master-key-file", "master key file; empty for <data>/master.key", func(c *Config) *string { return &c.MasterKeyFile }},
	{"SKJOLD_TLS_CERT_FILE", "tls-cert", "TLS certificate (PEM); empty for a self-signed one", func(c *Config) *string { return &c.TLSCertFile }},
	{"SKJOLD_TLS_KEY_FILE", "tls-key", "TLS private key (PEM)", func(c *Config) *string { return &c.TLSKeyFile }},
	{"SKJOLD_LOG_LEVEL", "log-level", "log level: debug, info, warn, error", func(c *Config) *string { return &c.LogLevel }},
	{"SKJOLD_PUBLIC_URL", "public-url", "the URL people reach Skjold at, for links in e-mails", func(c *Config) *string { return &c.PublicURL }},
	{"SKJOLD_OPERATOR_EMAIL", "operator-email", "the first operator owner's e-mail address (login)", func(c *Config) *string { return &c.OperatorEmail }},
	{"SKJOLD_SMTP_HOST", "smtp-host", "SMTP relay host; empty to write e-mail to <data>/outbox", func(c *Config) *string { return &c.SMTPHost }},
	{"SKJOLD_SMTP_PORT", "smtp-port", "SMTP relay port (STARTTLS); default 587", func(c *Config) *string { return &c.SMTPPort }},
	{"SKJOLD_SMTP_USERNAME", "smtp-username", "SMTP user name", func(c *Config) *string { return &c.SMTPUsername }},
	{"SKJOLD_SMTP_PASSWORD", "smtp-password", "SMTP password", func(c *Config) *string { return &c.SMTPPassword }},
	{"SKJOLD_SMTP_CA_FILE", "smtp-ca-file", "PEM CA certificates to trust for the SMTP relay; empty for the system's", func(c *Config) *string { return &c.SMTPCAFile }},
	{"SKJOLD_SMTP_FROM", "smtp-from", "sender address of Skjold's e-mail", func(c *Config) *string { return &c.SMTPFrom }},
	{"SKJOLD_SMS_GATEWAY_URL", "sms-gateway-url", "HTTPS SMS gateway URL; empty to write text messages to <data>/sms-outbox", func(c *Config) *string { return &c.SMSGatewayURL }},
	{"SKJOLD_SMS_GATEWAY_AUTH_HEADER", "sms-gateway-auth-header", "header that carries the SMS gateway's credential, e.g. Authorization", func(c *Config) *string { return &c.SMSGatewayAuthHeader }},
	{"SKJOLD_SMS_GATEWAY_AUTH", "sms-gateway-auth", "the SMS gateway header's value (a secret)", func(c *Config) *string { return &c.SMSGatewayAuth }},
	{"SKJOLD_SMS_GATEWAY_AUTH_FILE", "sms-gateway-auth-file", "file whose first line is the SMS gateway header's value", func(c *Config) *string { return &c.SMSGatewayAuthFile }},
	{"SKJOLD_SMS_GATEWAY_BODY", "sms-gateway-body", "SMS gateway request body template over .To, .From and .Body (functions json, urlquery)", func(c *Config) *string { return &c.SMSGatewayBody }},
	{"SKJOLD_SMS_GATEWAY_CONTENT_TYPE", "sms-gateway-content-type", "SMS gateway request content type; default application/json", func(c *Config) *string { return &c.SMSGatewayContentType }},
	{"SKJOLD_SMS_GATEWAY_CA_FILE", "sms-gateway-ca-file", "PEM CA certificates to trust for the SMS gateway; empty for the system's", func(c *Config) *string { return &c.SMSGatewayCAFile }},
	{"SKJOLD_SMS_FROM", "sms-from", "sender name or number of Skjold's text messages", func(c *Config) *string { return &c.SMSFrom }},
	{"SKJOLD_TRUSTED_PROXIES", "trusted-proxies", "reverse proxies whose X-Forwarded-For is believed (comma-separated CIDRs)", func(c *Config) *string { return &c.TrustedProxies }},
	{"SKJOLD_PASSWORD_CHECKS", "password-checks", "password hashes run at once; empty for twice the CPUs", func(c *Config) *string { return &c.PasswordChecks }},
	{"SKJOLD_PASSWORD_CHECKS_PER_SOURCE", "password-checks-per-source", "password checks one source (IPv4 address, IPv6 prefix) may have under way; empty for half of password-checks", func(c *Config) *string { return &c.PasswordChecksPerSource }},
	{"SKJOLD_BAN_IPV6_PREFIX", "ban-ipv6-prefix", "prefix length by which IPv6 addresses are counted and banned (48…128); empty for 64", func(c *Config) *string { return &c.BanIPv6Prefix }},
	{"SKJOLD_BLOCKLIST_FILE", "blocklist-file", "CIDR block list file (one range per line, # comments) loaded at start", func(c *Config) *string { return &c.BlockListFile }},
	{"SKJOLD_ALERT_EMAIL", "alert-email", "address that receives security alerts", func(c *Config) *string { return &c.AlertEmail }},
	{"SKJOLD_ALERT_WEBHOOK_URL", "alert-webhook-url", "https:// URL that receives security alerts, signed with HMAC-SHA-256", func(c *Config) *string { return &c.AlertWebhookURL }},
	{"SKJOLD_ALERT_WEBHOOK_SECRET", "alert-webhook-secret", "secret that signs alert webhooks (at least 32 bytes)", func(c *Config) *string { return &c.AlertWebhookSecret }},
	{"SKJOLD_ALERT_ACTIONS", "alert-actions", "audit actions that raise alerts, comma-separated; empty for the default list", func(c *Config) *string { return &c.AlertActions }},
	{"SKJOLD_ALERT_LANGUAGE", "alert-language", "language of the alert e-mails: en, nb or pl; empty for en", func(c *Config) *string { return &c.AlertLanguage }},
	{"SKJOLD_SUBPROCESSOR_NOTICE_DAYS", "subprocessor-notice-days", "days before a new sub-processor takes effect that tenant owners are e-mailed; default 30", func(c *Config) *string { return &c.SubprocessorNoticeDays }},
	{"SKJOLD_RETENTION_INTERVAL", "retention-interval", "how often the retention sweep runs, e.g. 1h or 15m (at least 1m)", func(c *Config) *string { return &c.RetentionInterval }},
	{"SKJOLD_JOB_LEASE", "job-lease", "lease period of the jobs that run on one node at a time (retention, hourly jobs), 2s to 10m", func(c *Config) *string { return &c.JobLease }},
	{"SKJOLD_BACKUP_RECIPIENTS", "backup-recipients", "age public keys (age1…) backups are encrypted to, comma-separated", func(c *Config) *string { return &c.BackupRecipients }},
	{"SKJOLD_BACKUP_DIRS", "backup-dirs", "local directories backups are copied to, comma-separated (two are a mirror)", func(c *Config) *string { return &c.BackupDirs }},
	{"SKJOLD_BACKUP_TIMES", "backup-times", "times of day of the scheduled backups (HH:MM, comma-separated)", func(c *Config) *string { return &c.BackupTimes }},
	{"SKJOLD_BACKUP_ZONE", "backup-zone", "time zone of the backup, off-site and drill times (e.g. Europe/Oslo; Local for the machine's)", func(c *Config) *string { return &c.BackupZone }},
	{"SKJOLD_BACKUP_KEEP", "backup-keep", "days of backups rotation keeps on each target", func(c *Config) *string { return &c.BackupKeep }},
	{"SKJOLD_OFFSITE_TIME", "offsite-time", "time of day of the daily off-site copy (HH:MM)", func(c *Config) *string { return &c.OffsiteTime }},
	{"SKJOLD_DRILL_TIME", "drill-time", "time of day of the daily restore drill (HH:MM)", func(c *Config) *string { return &c.DrillTime }},
	{"SKJOLD_BACKUP_DRILL_IDENTITY_FILE", "backup-drill-identity-file", "age identity the restore drill decrypts with; empty for checksum-only drills", func(c *Config) *string { return &c.BackupDrillIdentityFile }},
	{"SKJOLD_BACKUP_SFTP_ADDR", "backup-sftp-addr", "SFTP backup server (host:port); empty for none", func(c *Config) *string { return &c.BackupSFTPAddr }},
	{"SKJOLD_BACKUP_SFTP_USER", "backup-sftp-user", "SFTP login name", func(c *Config) *string { return &c.BackupSFTPUser }},
	{"SKJOLD_BACKUP_SFTP_KEY_FILE", "backup-sftp-key-file", "SSH private key file for the SFTP server", func(c *Config) *string { return &c.BackupSFTPKeyFile }},
	{"SKJOLD_BACKUP_SFTP_KNOWN_HOSTS", "backup-sftp-known-hosts", "known_hosts file with the SFTP server's host key", func(c *Config) *string { return &c.BackupSFTPKnownHosts }},
	{"SKJOLD_BACKUP_SFTP_DIR", "backup-sftp-dir", "directory on the SFTP server that holds the backups", func(c *Config) *string { return &c.BackupSFTPDir }},
	{"SKJOLD_BACKUP_S3_ENDPOINT", "backup-s3-endpoint", "S3-compatible endpoint (host[:port]); empty for none", func(c *Config) *string { return &c.BackupS3Endpoint }},
	{"SKJOLD_BACKUP_S3_BUCKET", "backup-s3-bucket", "S3 bucket that holds the backups", func(c *Config) *string { return &c.BackupS3Bucket }},
	{"SKJOLD_BACKUP_S3_PREFIX", "backup-s3-prefix", "S3 key prefix of the backups", func(c *Config) *string { return &c.BackupS3Prefix }},
	{"SKJOLD_BACKUP_S3_ACCESS_KEY", "backup-s3-access-key", "S3 access key id", func(c *Config) *string { return &c.BackupS3AccessKey }},
	{"SKJOLD_BACKUP_S3_SECRET_KEY", "backup-s3-secret-key", "S3 secret key", func(c *Config) *string { return &c.BackupS3SecretKey }},
	{"SKJOLD_BACKUP_S3_REGION", "backup-s3-region", "S3 region; empty to ask the server", func(c *Config) *string { return &c.BackupS3Region }},
	{"SKJOLD_SMTP_PASSWORD_FILE", "smtp-password-file", "file holding the SMTP password (instead of smtp-password)", func(c *Config) *string { return &c.SMTPPasswordFile }},
	{"SKJOLD_ALERT_WEBHOOK_SECRET_FILE", "alert-webhook-secret-file", "file holding the alert webhook secret (instead of alert-webhook-secret)", func(c *Config) *string { return &c.AlertWebhookSecretFile }},
	{"SKJOLD_BACKUP_S3_ACCESS_KEY_FILE", "backup-s3-access-key-file", "file holding the S3 access key id (instead of backup-s3-access-key)", func(c *Config) *string { return &c.BackupS3AccessKeyFile }},
	{"SKJOLD_BACKUP_S3_SECRET_KEY_FILE", "backup-s3-secret-key-file", "file holding the S3 secret key (instead of backup-s3-secret-key)", func(c *Config) *string { return &c.BackupS3SecretKeyFile }},
	{"SKJOLD_DATABASE_FILE", "database-file", "file holding the PostgreSQL URL with its password (instead of database)", func(c *Config) *string { return &c.DatabaseFile }},
	{"SKJOLD_BREACH_API_URL", "breach-api-url", "k-anonymity breached-password range API (e.g. https://api.pwnedpasswords.com); empty for none", func(c *Config) *string { return &c.BreachAPIURL }},
}

// configFlags registers the configuration flags on fs; the returned function, called after
// fs.Parse, builds the effective configuration.
func configFlags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	file := fs.String("config", "", "configuration file (TOML); also SKJOLD_CONFIG")
	flags := map[string]*string{}
	for _, s := range settings {
		flags[s.flag] = fs.String(s.flag, "", s.usage+"; also "+s.env)
	}
	return func() (Config, error) {
		cfg := defaultConfig()
		path := *file
		if path == "" {
			path = getenv("SKJOLD_CONFIG")
		}
		if path != "" {
			if err := readConfigFile(path, &cfg); err != nil {
				return cfg, err
			}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, s := range settings {
			if v := getenv(s.env); v != "" {
				*s.value(&cfg) = v
			}
			if set[s.flag] {
				*s.value(&cfg) = *flags[s.flag]
			}
		}
		if err := cfg.readSecretFiles(); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
}

// readSecretFiles replaces each secret given as a *_file by the file's content. Giving both a
// secret and its file is refused: which one is meant would be a guess.
func (c *Config) readSecretFiles() error {
	for _, s := range []struct {
		name       string
		file, into *string
	}{
		{"smtp_password", &c.SMTPPasswordFile, &c.SMTPPassword},
		{"alert_webhook_secret", &c.AlertWebhookSecretFile, &c.AlertWebhookSecret},
		{"backup_s3_access_key", &c.BackupS3AccessKeyFile, &c.BackupS3AccessKey},
		{"backup_s3_secret_key", &c.BackupS3SecretKeyFile, &c.BackupS3SecretKey},
		{"database", &c.DatabaseFile, &c.Database},
	} {
		if *s.file == "" {
			continue
		}
		if *s.into != "" {
			return fmt.Errorf("%s and %s_file are both set: give one", s.name, s.name)
		}
		b, err := os.ReadFile(*s.file)
		if err != nil {
			return fmt.Errorf("%s_file: %w", s.name, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%s_file %s must hold the secret on one line", s.name, *s.file)
		}
		*s.into = v
	}
	return nil
}

// readConfigFile reads a TOML file into cfg. Values are typed as TOML types them (backup_keep
// = 7, an array of backup_times, a boolean); the older forms, every value a string and lists
// comma-separated, are read as before.
func readConfigFile(path string, cfg *Config) error {
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(cfg).Elem()
	for i := range v.NumField() {
		if tag := v.Type().Field(i).Tag.Get("toml"); tag != "" {
			fields[tag] = v.Field(i)
		}
	}
	keys := slices.Sorted(maps.Keys(raw))
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			return fmt.Errorf("config file %s: unknown setting %q", path, k)
		}
		s, err := configString(raw[k])
		if err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
		f.SetString(s)
	}
	return nil
}

// configString turns a TOML value into the setting's text: a number or boolean as written, an
// array as its elements joined by commas.
func configString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := configString(e)
			if _, nested := e.([]any); err != nil || nested {
				return "", errors.New("an array holds strings, numbers or booleans")
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("array element %q holds a comma", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("use a string, number, boolean or array, not %T", v)
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q is not host:port", c.Addr)
	}
	if c.RedirectAddr != "" {
		_, port, err := net.SplitHostPort(c.RedirectAddr)
		if err != nil {
			return fmt.Errorf("redirect_addr %q is not host:port", c.RedirectAddr)
		}
		if c.RedirectAddr == c.Addr && port != "0" {
			return errors.New("redirect_addr must differ from addr: the HTTPS port speaks only HTTPS")
		}
		if host, _, _ := net.SplitHostPort(c.Addr); c.PublicURL == "" && unspecifiedHost(host) {
			return errors.New("redirect_addr needs public_url when addr names no host: the redirect goes to one configured place, never to the request's Host")
		}
	}
	if c.HTTPAddr != "" {
		if err := checkHTTPAddr(c.HTTPAddr); err != nil {
			return err
		}
		if _, port, _ := net.SplitHostPort(c.HTTPAddr); port != "0" && (c.HTTPAddr == c.Addr || c.HTTPAddr == c.RedirectAddr) {
			return errors.New("http_addr must differ from addr and redirect_addr")
		}
	}
	if c.Data == "" {
		return errors.New("data directory must not be empty")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("tls_cert_file and tls_key_file go together: set both or neither")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return errors.New("database must be a postgres:// URL, or empty for SQLite in the data directory")
	}
	if _, err := c.postgresLimits(); err != nil {
		return err
	}
	if _, err := c.subprocessorNoticeDays(); err != nil {
		return err
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if _, _, err := c.passwordChecks(); err != nil {
		return err
	}
	if _, err := c.banIPv6Prefix(); err != nil {
		return err
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") {
		return errors.New("public_url must start with https://")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	if _, err := c.retentionInterval(); err != nil {
		return err
	}
	if _, err := c.jobLease(); err != nil {
		return err
	}
	if _, err := c.backupRecipients(); err != nil {
		return err
	}
	if err := c.validateBackups(); err != nil {
		return err
	}
	return nil
}

// passwordChecks returns how many password hashes run at once (0 for the hasher's default,
// twice the CPUs) and how many one source may have under way (0 for half the total).
func (c *Config) passwordChecks() (total, perSource int, err error) {
	if total, err = optionalInt(c.PasswordChecks, 1, 1024); err != nil {
		return 0, 0, fmt.Errorf("password_checks: %w", err)
	}
	if perSource, err = optionalInt(c.PasswordChecksPerSource, 1, 1024); err != nil {
		return 0, 0, fmt.Errorf("password_checks_per_source: %w", err)
	}
	if total > 0 && perSource > total {
		return 0, 0, errors.New("password_checks_per_source must not exceed password_checks")
	}
	return total, perSource, nil
}

// banIPv6Prefix returns the prefix length IPv6 sources are counted by: 64 unless set.
func (c *Config) banIPv6Prefix() (int, error) {
	n, err := optionalInt(c.BanIPv6Prefix, 48, 128)
	if err != nil {
		return 0, fmt.Errorf("ban_ipv6_prefix: %w", err)
	}
	if n == 0 {
		n = 64
	}
	return n, nil
}

// optionalInt parses s as a whole number within lo…hi; "" gives 0.
func optionalInt(s string, lo, hi int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("use a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// checkHTTPAddr accepts a plain-HTTP API listener only where no one but this host reaches
// it: a loopback address (127.0.0.0/8, ::1, localhost) with a port, or a unix socket
// "unix:/absolute/path". Plain HTTP on any other address would send passwords and tokens
// over the network in the clear.
func checkHTTPAddr(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return fmt.Errorf("http_addr %q: a unix socket needs an absolute path, such as unix:/run/skjold/http.sock", addr)
		}
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("http_addr %q is not host:port or unix:/path", addr)
	}
	if ip, err := netip.ParseAddr(host); host == "localhost" || (err == nil && ip.Unmap().IsLoopback()) {
		return nil
	}
	return fmt.Errorf("http_addr %q refused: plain HTTP is served only on a loopback address (127.0.0.1:8080, [::1]:8080) or a unix socket (unix:/run/skjold/http.sock), for a TLS-terminating proxy on the same host; anything else would carry passwords and tokens unencrypted", addr)
}

// unspecifiedHost reports whether a listen host stands for every interface ("", 0.0.0.0, ::).
func unspecifiedHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || (err == nil && ip.IsUnspecified())
}

// retentionInterval returns how often the retention sweep runs.
func (c *Config) retentionInterval() (time.Duration, error) {
	d, err := time.ParseDuration(c.RetentionInterval)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("retention_interval %q: use a duration of at least 1m, such as 1h", c.RetentionInterval)
	}
	return d, nil
}

// jobLease is the lease period of the singleton jobs (job_lease).
func (c *Config) jobLease() (time.Duration, error) {
	d, err := time.ParseDuration(c.JobLease)
	if err != nil || d < 2*time.Second || d > 10*time.Minute {
		return 0, fmt.Errorf("job_lease %q: use a duration from 2s to 10m, such as 30s", c.JobLease)
	}
	return d, nil
}

// postgresLimits returns the PostgreSQL session limits; "0" turns one off.
func (c *Config) postgresLimits() (*store.PostgresLimits, error) {
	var lim store.PostgresLimits
	for _, f := range []struct {
		name, value string
		into        *time.Duration
	}{
		{"db_idle_in_transaction_timeout", c.DBIdleInTransactionTimeout, &lim.IdleInTransaction},
		{"db_lock_timeout", c.DBLockTimeout, &lim.Lock},
		{"db_statement_timeout", c.DBStatementTimeout, &lim.Statement},
	} {
		d, err := time.ParseDuration(f.value)
		if f.value == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || (d > 0 && d < 10*time.Millisecond) {
			return nil, fmt.Errorf("%s %q: use a duration such as 5s, or 0 for no limit", f.name, f.value)
		}
		*f.into = d
	}
	return &lim, nil
}

// dsn returns the database to open: the configured PostgreSQL URL, or the SQLite file.
func (c *Config) dsn() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.Data, "skjold.db")
}

func (c *Config) keyFile() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.Data, "master.key")
}

func (c *Config) logLevel() slog.Level {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel))
	return lvl
}

// printable returns the configuration as TOML with secrets left out: a database password is
// replaced by "xxxxx". Key and certificate files are named, never read.
func (c Config) printable() string {
	if u, err := url.Parse(c.Database); err == nil && c.Database != "" {
		q := u.Query()
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		c.Database = u.Redacted()
	} else if err != nil {
		c.Database = "(unparsable URL, not shown)"
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = c.keyFile()
	}
	if c.SMTPPassword != "" {
		c.SMTPPassword = "xxxxx"
	}
	if c.AlertWebhookSecret != "" {
		c.AlertWebhookSecret = "xxxxx"
	}
	if c.SMSGatewayAuth != "" {
		c.SMSGatewayAuth = "xxxxx"
	}
	if c.BackupS3SecretKey != "" {
		c.BackupS3SecretKey = "xxxxx"
	}
	var b bytes.Buffer
	toml.NewEncoder(&b).Encode(c)
	return b.String()
}
