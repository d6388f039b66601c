"""Stick-figure rendering, plots and reports (extra ``viz``)."""
