"""Helpers the tests share: harnesses for real pip races and a local package index."""
