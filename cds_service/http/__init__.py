"""The thin HTTP layer: routes, request decoding and error bodies; no clinical logic."""
