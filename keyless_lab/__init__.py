"""Go Keyless lab."""
