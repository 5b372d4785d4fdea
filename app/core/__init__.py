"""Runtime plumbing: settings, logs, keys, the URL guard, the probe, processes."""
