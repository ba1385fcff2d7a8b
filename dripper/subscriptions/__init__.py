"""A subscription's core: its states, the named transitions that move it, and its schedule.

Every other package changes a subscription only through ``states``' transitions; nobody
sets state, claim or schedule fields by hand. ``schedule`` turns a person's local time,
send window and pacing settings into the next slot.
"""
