package main

import (
	"fmt"
	"strconv"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/store"
)

// processorHosts lists the hosts this installation hands data to, which the sub-processor
// register should cover [G2]: the SMTP relay and the off-site backup targets. (Skjold sends
// no SMS itself; a gateway would be listed here once it does.)
func processorHosts(cfg Config) []skjold.ProcessorHost {
	var hosts []skjold.ProcessorHost
	for _, h := range []struct{ role, addr string }{
		{"smtp_relay", cfg.SMTPHost}, {"sms_gateway", cfg.SMSGatewayURL}, {"backup_s3", cfg.BackupS3Endpoint},
		{"backup_sftp", cfg.BackupSFTPAddr},
	} {
		if host := skjold.HostOf(h.addr); host != "" {
			hosts = append(hosts, skjold.ProcessorHost{Role: h.role, Host: host})
		}
	}
	return hosts
}

// subprocessorNoticeDays returns how many days before a new sub-processor takes effect the
// tenant owners are e-mailed.
func (c *Config) subprocessorNoticeDays() (int, error) {
	if c.SubprocessorNoticeDays == "" {
		return skjold.DefaultSubprocessorNoticeDays, nil
	}
	n, err := strconv.Atoi(c.SubprocessorNoticeDays)
	if err != nil || n < 1 || n > 365 {
		return 0, fmt.Errorf("subprocessor_notice_days %q: use a number of days from 1 to 365", c.SubprocessorNoticeDays)
	}
	return n, nil
}

// configureDPA gives the store what the DPA and G2 need from the configuration.
func configureDPA(db *store.DB, cfg Config) error {
	days, err := cfg.subprocessorNoticeDays()
	if err != nil {
		return err
	}
	db.SetProcessorHosts(processorHosts(cfg))
	db.SetSubprocessorNoticeDays(days)
	return nil
}
