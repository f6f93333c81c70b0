"""Data the project trains on: digits and synthetic shapes scenes."""
