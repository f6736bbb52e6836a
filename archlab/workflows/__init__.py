"""Workflows: what a command does end to end, one library function per command."""
