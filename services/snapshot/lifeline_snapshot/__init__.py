"""The snapshot service: snapshots, restore, recap, export/import and the WAL view (port 8003)."""
