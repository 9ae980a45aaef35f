"""Whole datasets: feature extraction and batch selection, on this machine or on Ray actors, and the
built-in benchmark run end to end (the demo)."""
