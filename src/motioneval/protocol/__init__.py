"""The evaluation protocol: presets, the replication loop, caching/resume, results and reports."""
