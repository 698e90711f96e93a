"""replay: recovers a session's state (Redis hot streams → ingest's log → cold), streams
its live events over WebSockets, time-travels, and assembles LLM context windows."""
