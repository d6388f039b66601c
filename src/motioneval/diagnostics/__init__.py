"""Checks that explain why numbers may be wrong (``motioneval doctor``)."""
