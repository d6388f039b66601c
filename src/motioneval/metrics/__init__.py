"""Numeric core: arrays in, numbers out. Depends on numpy and scipy only (never on torch)."""
