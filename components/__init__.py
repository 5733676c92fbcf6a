"""Pulumi component resources and the typed stage config: the only package that imports pulumi."""
