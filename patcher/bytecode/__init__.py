"""Byte-code: which files a copy's source has, and compiling them anew by the interpreter each is for."""
