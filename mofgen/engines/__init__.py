"""Wrappers around external simulation codes, one small module per code."""
