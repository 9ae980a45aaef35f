"""Datasets: folders and CSVs, the official layouts, and the built-in benchmark."""
