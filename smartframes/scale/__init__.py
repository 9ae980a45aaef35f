"""Whole datasets: feature extraction and batch selection, on this machine or on Ray actors."""
