"""Measuring selection: metrics, the cost model, timing, the evaluation against the baselines, the
ablation, figures and the HTML report."""
