"""Courses: the file format, its checks, the GSM-7 rules and the store that imports them."""
