"""Self-contained HTML reports of check verdicts and benchmark results."""
