"""ingest: the write side of Lifeline. Appends events to the log and relays them."""
