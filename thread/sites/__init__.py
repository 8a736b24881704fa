"""Many sites, one verifiable thread: site ledgers forward their logs to a hub that mirrors
and cosigns them (c2sp.org/tlog-mirror and tlog-cosignature), over NATS JetStream."""
