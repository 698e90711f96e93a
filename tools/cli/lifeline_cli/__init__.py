"""`lifeline`: a command line over the snapshot and replay services' HTTP APIs."""
