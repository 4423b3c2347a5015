"""Numbers: evaluation plans, finite-difference checks."""
